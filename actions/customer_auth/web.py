"""What every action shares at its edge: logging into the activation, errors as web answers,
and the HTTP request a raw web sequence received.
"""
from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

from . import audit, client_json, settings
from .errors import (
    AUTHORIZATION, INPUT, NO_SUCH_ENTITY, CommerceError, ConfigurationError, InputError, InternalError,
    RateLimitError,
)
from .printable import PrintableFormatter
from .signed_request import SignedRequest
from .store import open_store

log = logging.getLogger("customer_auth")
Action = Callable[[dict[str, Any]], dict[str, Any]]

_TEXT_TYPES = ("text/", "application/x-www-form-urlencoded")


def web_action(main: Action) -> Action:
    """Wraps an exchange step's `main`: a CommerceError becomes its web answer, anything else
    `Internal server error`; the detail goes to the activation log, the client sees Commerce's words,
    and the failed exchange goes to the audit trail."""
    return answering(main, on_failure=_audit_failure)


def answering(main: Action, on_failure: Callable[[Mapping[str, Any], CommerceError], None] | None = None,
              unexpected: Callable[[str], CommerceError] = InternalError) -> Action:
    """`main` whose errors become web answers: a CommerceError its own, anything else `unexpected`'s
    (the traceback goes to the log); `on_failure(params, error)` is told of each."""

    @functools.wraps(main)
    def run(params: dict[str, Any]) -> dict[str, Any]:
        configure_logging(params)
        try:
            return main(params)
        except CommerceError as error:
            log.warning("%s: %s", getattr(error, "code", error.category), error.reason)
            failure = error
        except Exception as error:  # the action must answer; the traceback goes to the log
            log.exception("unexpected error")
            failure = unexpected(f"{type(error).__name__}")
        if on_failure is not None:
            on_failure(params, failure)
        return failure.as_web_error()

    return run


_OUTCOMES = {INPUT: audit.INVALID, NO_SUCH_ENTITY: audit.NOT_FOUND, AUTHORIZATION: audit.DENIED}


def _audit_failure(params: Mapping[str, Any], error: CommerceError) -> None:
    url = params.get(settings.STORE_URL.name)
    if not url or isinstance(error, ConfigurationError):
        return  # nowhere to write, or the settings themselves are broken: the log has it
    outcome = audit.RATE_LIMITED if isinstance(error, RateLimitError) else _OUTCOMES.get(error.category, audit.ERROR)
    integration = getattr(error, "integration", None) or params.get("integration")
    store_code = params.get("store_code") or headers_of(params).get("store")
    try:
        store = open_store(url)
    except Exception:  # an unusable STORE_URL is already the error being reported
        return
    audit.record(store, outcome, integration=integration, store_code=store_code,
                 reason=error.reason[:200])


class _ActivationLogHandler(logging.StreamHandler):
    """Writes to whatever stdout is now: the runtime captures it into the activation's logs."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(params: Mapping[str, Any]) -> None:
    """Sends the library's log lines into the activation at the activation's `LOG_LEVEL` (default
    info). The handler is added once per warm container, the level set again only when it changes
    (`setLevel` clears every logger's cache). A level that is none logs at info: the emulator and
    scripts/deploy refuse it before any action runs."""
    try:
        level = settings.LOG_LEVEL.read(params)
    except ConfigurationError:
        level = settings.LOG_LEVEL.default
    root = logging.getLogger("customer_auth")
    if not any(isinstance(handler, _ActivationLogHandler) for handler in root.handlers):
        handler = _ActivationLogHandler(sys.stdout)
        handler.setFormatter(PrintableFormatter("%(levelname)s %(message)s"))  # request text is escaped
        root.addHandler(handler)
        root.propagate = False
    wanted = logging.getLevelName(level.upper())
    if root.level != wanted:
        root.setLevel(wanted)


def headers_of(params: Mapping[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (params.get("__ow_headers") or {}).items()}


def raw_body(params: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """`__ow_body` of a raw web action: OpenWhisk base64-encodes JSON and binary bodies, not text."""
    body = params.get("__ow_body") or ""
    if not isinstance(body, str):
        return json.dumps(body)
    if headers.get("content-type", "").lower().startswith(_TEXT_TYPES):
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return body


def signed_request(
    params: Mapping[str, Any], namespace: str, public_base_url: str, sequence_path: str
) -> SignedRequest:
    """The request as the client signed it: the URL it called, rebuilt from what the gateway passed.

    The path is the one the gateway reports in `x-forwarded-uri` (the emulator, our GraphQL facade and
    Traefik-style proxies set it); without it, the web sequence's own path. The scheme and host come
    from `PUBLIC_BASE_URL` when the service sits behind a reverse proxy, else from the forwarded headers.
    """
    headers = headers_of(params)
    forwarded_uri = headers.get("x-forwarded-uri", "")
    if forwarded_uri:
        path, _, query = forwarded_uri.partition("?")
    else:
        path = f"/api/v1/web/{namespace}/{sequence_path}{params.get('__ow_path') or ''}"
        query = str(params.get("__ow_query") or "")
    if public_base_url:
        base = public_base_url.rstrip("/")
    else:
        scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip()
        host = headers.get("x-forwarded-host") or headers.get("host", "")
        base = f"{scheme}://{host.split(',')[0].strip()}"
    url = base + path + (f"?{query}" if query else "")
    method = str(params.get("__ow_method") or "post").upper()
    return SignedRequest(method=method, url=url, headers=headers, body=raw_body(params, headers))


def json_body(request: SignedRequest) -> dict[str, Any]:
    """The JSON object the client sent (the web sequence takes the mutation's `input`)."""
    if not request.body.strip():
        return {}
    try:
        value = client_json.loads(request.body)
    except ValueError:
        raise InputError("The request body is not valid JSON.", reason="unparsable JSON body") from None
    if not isinstance(value, dict):
        raise InputError("The request body must be a JSON object.")
    return value
