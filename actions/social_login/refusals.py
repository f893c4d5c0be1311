"""Why a sign-in is refused: an HTTP status, a stable machine-readable code and a sentence.

The answer has Commerce's error shape (`{"errors": [{"message", "extensions": {"category"}}]}`) with
the code beside the category, so a storefront reads sign-in and GraphQL errors the same way. The
reason (what the activation log keeps) may say more than the message, never a token.
"""
from __future__ import annotations

import functools
from typing import Any

from customer_auth.errors import AUTHENTICATION, AUTHORIZATION, INPUT, INTERNAL, CommerceError
from customer_auth.web import Action, answering


class Refusal(CommerceError):
    """One refusal; subclasses fix the code, the status and the client's sentence."""

    code = "refused"
    status = 400
    category = INPUT
    message = "The sign-in was refused."

    def __init__(self, reason: str = "", message: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message or self.message, type(self).category, reason)
        self._extra_headers = headers or {}

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def headers(self) -> dict[str, str]:
        return {**super().headers, **self._extra_headers}

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": message, "extensions": {"category": self.category, "code": self.code}}
                           for message in self.messages]}


# The request itself

class InvalidRequest(Refusal):
    code, status, category = "invalid-request", 400, INPUT
    message = "The sign-in request is malformed."


class UnknownProvider(Refusal):
    code, status, category = "unknown-provider", 400, INPUT
    message = "No identity provider of that name is configured."


# The ID token (OpenID Connect Core 1.0, section 3.1.3.7)

class InvalidToken(Refusal):
    code, status, category = "invalid-token", 401, AUTHENTICATION
    message = "The ID token is not valid."


class TokenExpired(Refusal):
    code, status, category = "token-expired", 401, AUTHENTICATION
    message = "The ID token has expired."


class TokenNotYetValid(Refusal):
    code, status, category = "token-not-yet-valid", 401, AUTHENTICATION
    message = "The ID token is not valid yet."


class WrongIssuer(Refusal):
    code, status, category = "wrong-issuer", 401, AUTHENTICATION
    message = "The ID token was not issued by the provider."


class WrongAudience(Refusal):
    code, status, category = "wrong-audience", 401, AUTHENTICATION
    message = "The ID token was issued to another client."


class WrongAuthorizedParty(Refusal):
    code, status, category = "wrong-authorized-party", 401, AUTHENTICATION
    message = "The ID token was presented by another client."


class TenantNotAllowed(Refusal):
    code, status, category = "tenant-not-allowed", 401, AUTHENTICATION
    message = "The ID token's tenant is not allowed."


class NonceRequired(Refusal):
    code, status, category = "nonce-required", 401, AUTHENTICATION
    message = "The ID token has no nonce, and one is required."


class NonceMismatch(Refusal):
    code, status, category = "nonce-mismatch", 401, AUTHENTICATION
    message = "The ID token's nonce does not match the request's."


class TokenAlreadyUsed(Refusal):
    code, status, category = "token-already-used", 401, AUTHENTICATION
    message = "The ID token has already been used."


# The account

class EmailMissing(Refusal):
    code, status, category = "email-missing", 403, AUTHORIZATION
    message = "The ID token carries no email."


class EmailNotVerified(Refusal):
    code, status, category = "email-not-verified", 403, AUTHORIZATION
    message = "The provider has not verified the email."


class AccountExists(Refusal):
    code, status, category = "account-exists", 403, AUTHORIZATION
    message = "An account with this email already exists, and no sign-in with a provider is linked to it."


class NamesRequired(Refusal):
    code, status, category = "names-required", 400, INPUT
    message = "The first and last name are needed: send them as customer.firstname and customer.lastname."


class CustomerInvalid(Refusal):
    code, status, category = "customer-invalid", 400, INPUT
    message = "Commerce refused the customer."


# What is not a refusal: a provider or Commerce that cannot be reached now, a setting that cannot work

class ProviderUnavailable(Refusal):
    code, status, category = "provider-unavailable", 503, INTERNAL
    message = "The identity provider cannot be reached; try again later."


class CommerceUnavailable(Refusal):
    code, status, category = "commerce-unavailable", 502, INTERNAL
    message = "Commerce did not answer the exchange."


class InternalFailure(Refusal):
    code, status, category = "internal-error", 500, INTERNAL
    message = "Internal server error"


def sign_in_step(main: Action) -> Action:
    """Wraps a social-login action's `main` (customer_auth.web.answering): a Refusal is answered as it
    is; a setting that cannot work, a store that cannot answer, anything unexpected as `internal-error`
    (the reason in the activation log). Every failure answered carries a code."""

    @functools.wraps(main)
    def coded(params: dict[str, Any]) -> dict[str, Any]:
        try:
            return main(params)
        except Refusal:
            raise
        except CommerceError as error:  # a ConfigurationError, customer_auth's own InternalError
            raise InternalFailure(error.reason) from None

    return answering(coded, unexpected=InternalFailure)
