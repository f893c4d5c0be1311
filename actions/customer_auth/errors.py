"""Errors a client sees, in Commerce's wording and categories, shaped as OpenWhisk web answers.

The precise reason behind an error goes to the activation log (see `customer_auth.web`), never to
the client: a caller probing the front door learns nothing from the answer.
"""
from __future__ import annotations

from typing import Any

INPUT = "graphql-input"
AUTHENTICATION = "graphql-authentication"
AUTHORIZATION = "graphql-authorization"
NO_SUCH_ENTITY = "graphql-no-such-entity"
ALREADY_EXISTS = "graphql-already-exists"
TOO_MANY = "graphql-too-many-requests"  # Commerce's backpressure (GraphQlTooManyRequestsException)
INTERNAL = "internal"

# HTTP status of the web sequence's answer for each category. The GraphQL facade answers 200 as
# Commerce does and reads only the body.
_STATUS = {
    INPUT: 400,
    AUTHENTICATION: 401,
    AUTHORIZATION: 401,
    NO_SUCH_ENTITY: 404,
    ALREADY_EXISTS: 409,
    TOO_MANY: 429,
    INTERNAL: 500,
}

PERMISSION_DENIED = "You do not have permission to access this resource."
CUSTOMER_NOT_AUTHORIZED = "The current customer isn't authorized."
TOO_MANY_REQUESTS = "Too many requests from this integration. Try again later."
BACKPRESSURE = "Too Many Requests"  # Commerce's words when it sheds load (BackpressureFieldValidator)
INTERNAL_ERROR = "Internal server error"


class CommerceError(Exception):
    """One or more client-facing errors of one category.

    `reason` is what the activation log records: the detail the client must not see.
    """

    def __init__(self, messages: str | list[str], category: str, reason: str = "") -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.category = category
        self.reason = reason or "; ".join(self.messages)
        super().__init__(self.messages[0])

    @property
    def status_code(self) -> int:
        return _STATUS.get(self.category, 400)

    def body(self) -> dict[str, Any]:
        return {
            "errors": [
                {"message": message, "extensions": {"category": self.category}}
                for message in self.messages
            ]
        }

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json"}

    def as_web_error(self) -> dict[str, Any]:
        """An OpenWhisk application error that makes a web sequence answer with this body."""
        return {
            "error": {
                "statusCode": self.status_code,
                "headers": self.headers,
                "body": self.body(),
            }
        }


class InputError(CommerceError):
    def __init__(self, messages: str | list[str], reason: str = "") -> None:
        super().__init__(messages, INPUT, reason)


class AuthorizationError(CommerceError):
    """The caller is not an authorized integration; always worded as Commerce's permission error.
    `integration` ({id, name}) is the integration the request named, when it named a real one."""

    def __init__(self, reason: str, integration: dict[str, Any] | None = None) -> None:
        super().__init__(PERMISSION_DENIED, AUTHORIZATION, reason)
        self.integration = integration


class RateLimitError(AuthorizationError):
    """An authorized integration over its rate limit: HTTP 429 on the web sequence, with the seconds
    until its bucket holds a request again (`Retry-After`)."""

    def __init__(self, reason: str, integration: dict[str, Any] | None = None, retry_after: int = 1) -> None:
        super().__init__(reason, integration)
        self.messages = [TOO_MANY_REQUESTS]
        self.retry_after = retry_after

    @property
    def status_code(self) -> int:
        return 429

    @property
    def headers(self) -> dict[str, str]:
        return {**super().headers, "Retry-After": str(self.retry_after)}


class BackpressureError(CommerceError):
    """The runtime had no room for the request (OpenWhisk answered 429): worded as Commerce answers
    a field its backpressure refuses, `Too Many Requests`, category graphql-too-many-requests."""

    def __init__(self, reason: str) -> None:
        super().__init__(BACKPRESSURE, TOO_MANY, reason)


class NoSuchEntityError(CommerceError):
    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message, NO_SUCH_ENTITY, reason)


class InternalError(CommerceError):
    """Anything unexpected: the client sees only `Internal server error`."""

    def __init__(self, reason: str) -> None:
        super().__init__(INTERNAL_ERROR, INTERNAL, reason)


class ConfigurationError(InternalError):
    """A setting (an action input) has a value the action cannot use."""
