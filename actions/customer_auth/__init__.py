"""The domain library shared by the customer-auth actions.

Named after the contract's concepts: OAuth 1.0a (RFC 5849) for integrations, Commerce's customers,
customer tokens and stores. It does no I/O except through `customer_auth.store`, so every rule can be
unit-tested with a dict in and a dict out. It is packaged beside each action's `__main__.py`.
"""
