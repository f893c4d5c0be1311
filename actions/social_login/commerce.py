"""Commerce over HTTP: `exchangeExternalCustomerToken` signed with the integration's OAuth 1.0a
credentials (HMAC-SHA256, as customer_auth.oauth1 signs and checks it), and `isEmailAvailable`.

Any Commerce 2.4.9+ store (or the Storefront Compatibility Package) answers at `COMMERCE_GRAPHQL_URL`;
in the emulator that is its own `/graphql`, which runs customer-auth's sequence. Only the standard
library is used for HTTP, so the action's zip needs nothing more.
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from customer_auth import client_json
from customer_auth.errors import AUTHORIZATION, INPUT
from customer_auth.integrations import Integration
from customer_auth.oauth1 import authorization_header
from customer_auth.signed_request import SignedRequest

from .refusals import CommerceUnavailable, CustomerInvalid

log = logging.getLogger("customer_auth.social_login")

TIMEOUT_SECONDS = 25.0  # each call; the action may take 60 s, for isEmailAvailable and the exchange
MAX_ANSWER_BYTES = 1024 * 1024
EXCHANGE = """mutation SignIn($input: ExchangeExternalCustomerTokenInput!) {
  exchangeExternalCustomerToken(input: $input) {
    customer { email firstname lastname is_subscribed created_at }
    token
  }
}"""
EMAIL_AVAILABLE = """query EmailAvailable($email: String!) {
  isEmailAvailable(email: $email) { is_email_available }
}"""
ACTIVATION_HEADER = "x-openwhisk-activation-id"  # the emulator's /graphql names the activations it ran


@dataclass(frozen=True)
class Exchanged:
    customer: dict[str, Any]  # email, firstname, lastname, is_subscribed (created_at taken out)
    token: str
    created_at: datetime | None  # None when Commerce did not say (or not in its format)


@dataclass(frozen=True)
class Commerce:
    graphql_url: str
    integration: Integration  # only its four credentials are used
    timeout: float = TIMEOUT_SECONDS

    def exchange(self, customer: dict[str, Any], store_code: str) -> Exchanged:
        data = self._post(EXCHANGE, {"input": {"customer": customer}}, store_code, signed=True)
        answer = data.get("exchangeExternalCustomerToken")
        if not isinstance(answer, dict) or not isinstance(answer.get("token"), str) or not isinstance(
                answer.get("customer"), dict):
            raise CommerceUnavailable("the exchange answered no customer and token")
        found = dict(answer["customer"])
        return Exchanged(found, answer["token"], _commerce_time(found.pop("created_at", None)))

    def email_available(self, email: str, store_code: str) -> bool:
        """Whether no customer of the store's website has `email`. Commerce 2.4.7+ answers true for every
        email unless "Enable Guest Checkout Login" is on (see account_links for what covers that)."""
        data = self._post(EMAIL_AVAILABLE, {"email": email}, store_code, signed=False)
        answer = data.get("isEmailAvailable")
        if not isinstance(answer, dict) or not isinstance(answer.get("is_email_available"), bool):
            raise CommerceUnavailable("isEmailAvailable answered no is_email_available")
        return answer["is_email_available"]

    def _post(self, document: str, variables: dict[str, Any], store_code: str, signed: bool) -> dict[str, Any]:
        import urllib.error  # imported on first use: urllib.request costs ~25 ms to import
        import urllib.request

        body = json.dumps({"query": document, "variables": variables})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if store_code:
            headers["Store"] = store_code
        if signed:
            request = SignedRequest(method="POST", url=self.graphql_url, headers={"content-type": "application/json"},
                                    body=body)
            headers["Authorization"] = authorization_header(request, self.integration, int(time.time()),
                                                            secrets.token_hex(16))
        started = time.monotonic()
        http = urllib.request.Request(self.graphql_url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(http, timeout=self.timeout) as response:
                status, raw, ran = response.status, response.read(MAX_ANSWER_BYTES + 1), response.headers.get(ACTIVATION_HEADER)
        except urllib.error.HTTPError as error:
            with error:
                status, raw, ran = error.code, error.read(MAX_ANSWER_BYTES + 1), error.headers.get(ACTIVATION_HEADER)
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise CommerceUnavailable(f"{self.graphql_url} cannot be reached: {getattr(error, 'reason', error)}") from None
        log.info("Commerce answered HTTP %s in %.0f ms%s", status, (time.monotonic() - started) * 1000,
                 f" ({ACTIVATION_HEADER}: {ran})" if ran else "")
        try:
            answer = client_json.loads(raw.decode("utf-8")) if len(raw) <= MAX_ANSWER_BYTES else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise CommerceUnavailable(f"{self.graphql_url} answered HTTP {status} without a GraphQL answer")
        _refusal(answer.get("errors"))
        if not isinstance(answer.get("data"), dict):
            raise CommerceUnavailable(f"{self.graphql_url} answered HTTP {status} without data")
        return answer["data"]


def _refusal(errors: Any) -> None:
    """Commerce's errors as ours: its input errors (an email Commerce finds invalid) reach the client in
    its words; any other (the integration refused, an internal error) is Commerce not exchanging."""
    if not errors:
        return
    errors = errors if isinstance(errors, list) else [errors]
    messages = [str(e.get("message", ""))[:300] if isinstance(e, dict) else str(e)[:300] for e in errors]
    categories = {(e.get("extensions") or {}).get("category") if isinstance(e, dict) else None for e in errors}
    if categories == {INPUT}:
        raise CustomerInvalid(f"Commerce refused the input: {'; '.join(messages)}", message=messages[0])
    hint = " (check the AIO_COMMERCE_AUTH_INTEGRATION_* credentials and the integration's resources)" \
        if AUTHORIZATION in categories else ""
    raise CommerceUnavailable(f"Commerce answered errors: {'; '.join(messages)}{hint}")


def _commerce_time(value: Any) -> datetime | None:
    """Commerce shows times as `2024-05-01 12:00:00`, in UTC."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
