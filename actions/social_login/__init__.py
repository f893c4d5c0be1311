"""The social-login library: an OpenID Connect ID token verified, then exchanged for a Commerce token.

Modules are named after OpenID Connect's documents: `providers` (who may sign), `discovery` (OpenID
Connect Discovery 1.0), `jwks` (RFC 7517 key sets), `id_token` (Core 1.0 section 3.1.3.7),
`single_use` (each ID token accepted once), `account_links` (which Commerce account a subject opens),
and `commerce` (the exchange mutation, signed with the integration's OAuth 1.0a credentials).
The provider documents are cached per warm container (`cache`); everything else is stored through
`customer_auth.store`. Packaged beside each social-login action's `__main__.py`, with customer_auth.
"""
