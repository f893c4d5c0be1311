"""OAuth 1.0a request verification for integrations (RFC 5849), with Commerce's rules.

Validation runs in steps, each failing with its own reason: the header's parameters (3.1),
the signature method, the timestamp (3.3) and the nonce's length, the consumer and its token, the
signature (3.4), the nonce's one use (3.3), and the integration's permission. The reason is logged;
the client only ever sees Commerce's permission error. The nonce is consumed after the signature
verified, so a caller without the secrets cannot burn another caller's nonces.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
from base64 import b64encode
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlparse, urlunparse

# Not authlib.oauth1: importing any of it imports its OAuth client (urllib.request, http.client, ssl,
# email), a third of verify-oauth's cold start. `base_string` is its construct_base_string, which
# tests hold it equal to.
from authlib.common.urls import quote
from authlib.common.urls import unquote as unescape

from .integrations import CREDENTIAL_LENGTH, Credentials, Integration
from .signed_request import SignedRequest
from .store import Store
from .store.base import Admission, RateLimit

HMAC_SHA256 = "HMAC-SHA256"
HMAC_SHA1 = "HMAC-SHA1"
_DIGESTS = {HMAC_SHA256: hashlib.sha256, HMAC_SHA1: hashlib.sha1}

REQUIRED_PARAMETERS = (
    "oauth_consumer_key",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_nonce",
    "oauth_timestamp",
    "oauth_token",
)
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Commerce keeps a nonce in `oauth_nonce.nonce`, a varchar(32) (Magento_Integration's db_schema.xml);
# a longer one fails there, and Commerce answers "An error occurred validating the nonce".
MAX_NONCE_LENGTH = 32
# No OAuth parameter holds one; refused before any store lookup (PostgreSQL refuses NUL in text) and
# before any is logged (a newline would forge a log line).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class OAuthError(Exception):
    """Why a request was refused; worded for the activation log, never shown to the client.
    `integration` is the one the request named, when it named a real one (for the audit trail)."""

    integration: Integration | None = None


class RateLimited(OAuthError):
    """An authenticated integration went over its rate limit; its bucket gains a request every
    `retry_after` seconds (rounded up)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class OAuthPolicy:
    signature_methods: frozenset[str] = frozenset({HMAC_SHA256})
    timestamp_window: int = 600  # seconds, both into the past and into the future
    bearer_enabled: bool = False
    required_resource: str = ""
    rate_limit: RateLimit | None = None


def authenticate(request: SignedRequest, store: Store, policy: OAuthPolicy, now: int) -> Integration:
    """The integration that signed `request`, or OAuthError saying why there is none."""
    scheme, _, credentials = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        integration, nonce, timestamp = _bearer_integration(credentials.strip(), store, policy, now), None, now
    elif scheme.lower() == "oauth":
        oauth = parse_authorization(credentials)
        integration = _oauth_integration(request, oauth, store, policy, now)
        nonce, timestamp = oauth["oauth_nonce"], int(oauth["oauth_timestamp"])
    else:
        raise OAuthError("no OAuth or Bearer Authorization header")
    with _naming(integration):
        _check_permission(integration, policy.required_resource)
        _admit(store, integration, nonce, timestamp, policy, now)
    return integration


@contextmanager
def _naming(integration: Integration) -> Iterator[None]:
    """A refusal raised inside names the integration the request named, for the audit trail."""
    try:
        yield
    except OAuthError as error:
        error.integration = integration
        raise


def _admit(store: Store, integration: Integration, nonce: str | None, timestamp: int, policy: OAuthPolicy,
           now: int) -> None:
    """The nonce's one use, then a token from the integration's bucket, in one atomic store step."""
    admission = store.admit(integration.consumer_key, nonce, timestamp, now - policy.timestamp_window,
                            policy.rate_limit, time.time())
    if admission is Admission.REPLAYED:
        raise OAuthError(f"The nonce is already being used by the consumer with ID {integration.id}")
    if admission is Admission.RATE_LIMITED:
        limit = policy.rate_limit
        assert limit is not None  # a store limits only when given a limit
        raise RateLimited(f"integration {integration.id} is over its rate limit "
                          f"({limit.per_minute}/min, burst {limit.burst})", math.ceil(60 / limit.per_minute))


def parse_authorization(credentials: str) -> dict[str, str]:
    """The parameters of an `Authorization: OAuth ...` header (RFC 5849 section 3.5.1): `name="value"`
    pairs, percent-encoded, separated by commas (empty elements are skipped, as RFC 7230's lists
    allow); a value may come unquoted, as Commerce reads it. A name given twice, or a control character
    in a name or value, is refused."""
    pairs = []
    for item in _list_items(credentials):
        name, equals, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name:
            raise OAuthError("malformed OAuth Authorization header")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        name, value = unescape(name), unescape(value)
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise OAuthError("control characters in OAuth parameters")
        pairs.append((name, value))
    duplicated = sorted(name for name, times in Counter(name for name, _ in pairs).items() if times > 1)
    if duplicated:
        raise OAuthError(f"duplicated OAuth parameters: {', '.join(duplicated)}")
    return dict(pairs)


def _list_items(text: str) -> list[str]:
    """The comma-separated elements of `text`, a comma inside double quotes kept (an unclosed quote
    runs to the end), each stripped, empty ones left out."""
    items, pending, quotes = [], [], 0
    for piece in text.split(","):  # one pass: a header is read before anything about the caller is known
        pending.append(piece)
        quotes += piece.count('"')
        if quotes % 2 == 0:
            items.append(",".join(pending))
            pending, quotes = [], 0
    items.append(",".join(pending))
    return [item.strip() for item in items if item.strip()]


def _oauth_integration(
    request: SignedRequest, oauth: dict[str, str], store: Store, policy: OAuthPolicy, now: int
) -> Integration:
    for name in REQUIRED_PARAMETERS:
        if not oauth.get(name):
            raise OAuthError(f'"{name}" is required. Enter and try again.')
    if oauth.get("oauth_version", "1.0") != "1.0":
        raise OAuthError(f"oauth_version must be 1.0, got {oauth['oauth_version']!r}")
    method = oauth["oauth_signature_method"]
    if method not in policy.signature_methods:
        raise OAuthError(f"Signature method {method} is not supported")
    _check_timestamp(oauth["oauth_timestamp"], now, policy.timestamp_window)
    if len(oauth["oauth_nonce"]) > MAX_NONCE_LENGTH:
        raise OAuthError(f"An error occurred validating the nonce (oauth_nonce is longer than "
                         f"{MAX_NONCE_LENGTH} characters)")

    consumer_key = oauth["oauth_consumer_key"]
    if len(consumer_key) != CREDENTIAL_LENGTH:
        raise OAuthError("Consumer key is not the correct length")
    integration = store.integration_by_consumer_key(consumer_key)
    if integration is None:
        raise OAuthError("A consumer having the specified key does not exist")
    with _naming(integration):
        _check_usable(integration)
        if len(oauth["oauth_token"]) != CREDENTIAL_LENGTH:
            raise OAuthError("The token length is invalid. Check the length and try again.")
        credentials = _credentials_for(integration, oauth["oauth_token"], now)
        try:
            expected = signature(request, oauth, method, credentials.consumer_secret, credentials.access_token_secret)
        except ValueError as error:  # a Host header no URL can hold, such as an unclosed "["
            raise OAuthError(f"the request URL cannot be signed: {error}") from None
        if not hmac.compare_digest(expected, oauth["oauth_signature"]):
            raise OAuthError("The signature is invalid. Verify and try again.")
    return integration  # its nonce is consumed once the permission is known (authenticate)


def _credentials_for(integration: Integration, access_token: str, now: int) -> Credentials:
    """The credential set `access_token` belongs to: the current one, or the previous one while a
    rotation's grace period lasts. Every set is compared, in constant time."""
    matches = [c for c in integration.credential_sets(now) if hmac.compare_digest(access_token, c.access_token)]
    if not matches:
        raise OAuthError(f"the access token does not belong to consumer {integration.id} "
                         "(or its grace period after a rotation has ended)")
    return matches[0]


def signature(
    request: SignedRequest, oauth: Mapping[str, str], method: str, consumer_secret: str, token_secret: str
) -> str:
    """The base64 HMAC of the signature base string (RFC 5849 sections 3.4.1 and 3.4.2). The protocol
    parameters are the Authorization header's: a query or form parameter named `oauth_...` is not
    counted again, as Commerce reads them (Magento\\Framework\\Oauth\\Helper\\Request takes the body's
    and the query's only when the header has none) and as Adobe's signer sends them (oauth-1.0a copies
    such a query parameter into the header, and signs it once)."""
    params = [pair for pair in form_pairs(request.url.partition("?")[2]) if not pair[0].startswith("oauth_")]
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == FORM_CONTENT_TYPE and request.body:
        params.extend(pair for pair in form_pairs(request.body) if not pair[0].startswith("oauth_"))
    params.extend(oauth.items())
    key = f"{escape(consumer_secret)}&{escape(token_secret)}"
    digest = hmac.new(key.encode(), base_string(request.method, request.url, params).encode(), _DIGESTS[method])
    return b64encode(digest.digest()).decode()


def form_pairs(text: str) -> list[tuple[str, str]]:
    """The name/value pairs of a query or form body (RFC 5849 section 3.4.1.3.1), decoded as HTML's
    application/x-www-form-urlencoded (`+` a space, `%XX` a UTF-8 byte) from the text as the server
    received it. Clients following the WHATWG URL standard (Node's fetch, browsers) send `[ ] { } | ^`
    and the backtick unencoded, so any character is taken as itself and a stray `%` stays a `%`, as
    those clients decode it when they sign; nothing here can fail."""
    return parse_qsl(text, keep_blank_values=True)


def base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature base string (RFC 5849 section 3.4.1): the method, the base string URI and the
    normalized parameters (3.4.1.3.2: encoded, sorted, joined), each encoded. As authlib builds it:
    every `realm` and `oauth_signature` left out and every `oauth_` value decoded once more, wherever
    it came from (header, query or form body)."""
    pairs = sorted((escape(k), escape(unescape(v) if k.startswith("oauth_") else v))
                   for k, v in params if k not in ("oauth_signature", "realm"))
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join((escape(method.upper()), escape(_base_string_uri(url)), escape(normalized)))


def _base_string_uri(url: str) -> str:
    """RFC 5849 section 3.4.1.2: scheme and host in lower case, a default port dropped, no query."""
    scheme, netloc, path, params, _, _ = urlparse(url)
    if not scheme or not netloc:
        raise ValueError("uri must include a scheme and netloc")
    scheme, netloc = scheme.lower(), netloc.lower()
    host, colon, port = netloc.partition(":")
    if colon and (scheme, port) in (("http", "80"), ("https", "443")):
        netloc = host
    return urlunparse((scheme, netloc, path or "/", params, "", ""))


def escape(text: str) -> str:
    """RFC 5849 section 3.6 percent-encoding: every byte but the unreserved characters."""
    return quote(text, safe=b"~")


def _check_timestamp(value: str, now: int, window: int) -> int:
    try:
        timestamp = int(value)
    except ValueError:
        raise OAuthError("Incorrect timestamp value in the oauth_timestamp parameter") from None
    if timestamp <= 0 or timestamp > now + window:
        raise OAuthError(f"Incorrect timestamp value in the oauth_timestamp parameter ({timestamp - now:+d} s)")
    if timestamp < now - window:
        raise OAuthError(f"the oauth_timestamp is {now - timestamp} s old, beyond the {window} s window")
    return timestamp


def _bearer_integration(token: str, store: Store, policy: OAuthPolicy, now: int) -> Integration:
    if not policy.bearer_enabled:
        raise OAuthError("an integration access token as Bearer is refused: OAUTH_BEARER_ENABLED is off")
    integration = store.integration_by_access_token(token) if len(token) == CREDENTIAL_LENGTH else None
    if integration is None:
        raise OAuthError("the Bearer token is no integration's access token")
    with _naming(integration):
        _credentials_for(integration, token, now)
        _check_usable(integration)
    return integration


def _check_usable(integration: Integration) -> None:
    if integration.token_revoked:
        raise OAuthError(f"Access token has been revoked (integration {integration.id})")
    if not integration.is_usable:
        raise OAuthError(f"integration {integration.id} is {integration.status}")


def _check_permission(integration: Integration, resource: str) -> None:
    if not integration.allows(resource):
        raise OAuthError(f"integration {integration.id} lacks the resource {resource}")


def authorization_header(
    request: SignedRequest,
    integration: Integration,
    timestamp: int,
    nonce: str,
    method: str = HMAC_SHA256,
) -> str:
    """An `Authorization: OAuth ...` value signing `request` as `integration` (the client's side)."""
    oauth = {
        "oauth_consumer_key": integration.consumer_key,
        "oauth_nonce": nonce,
        "oauth_signature_method": method,
        "oauth_timestamp": str(timestamp),
        "oauth_token": integration.access_token,
        "oauth_version": "1.0",
    }
    oauth["oauth_signature"] = signature(
        request, oauth, method, integration.consumer_secret, integration.access_token_secret
    )
    return "OAuth " + ", ".join(f'{escape(k)}="{escape(v)}"' for k, v in oauth.items())
