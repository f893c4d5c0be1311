"""The audit trail: every exchange, whatever its outcome.

An integration credential can mint a token for any customer, so who got a token for whom, and who was
refused, is kept (time, integration, store, customer id, created or found, outcome), readable with
`scripts/audit`. An entry never holds a secret: ids and names only, and the refusal's category; the
request text it quotes (the reason, the `Store` header) has its control characters escaped.

Every issued token, and every failure after the caller was authenticated, has an entry of its own:
each of those requests took a token from its integration's rate limit, which bounds how fast they
come. A refusal before that (`denied`: no valid signature, a replayed nonce, ...; `rate-limited`)
costs the client nothing, so those are counted instead: one entry per outcome, integration named
(or none) and minute, whose `count` says how many refusals it stands for, the first one's `at`,
`reason` and store, and the last one's time as `last_at`. A client flooding the endpoint adds at
most a few entries a minute.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .errors import InternalError
from .printable import printable
from .records import now_iso
from .store import Store

ISSUED = "issued"
DENIED = "denied"
RATE_LIMITED = "rate-limited"
INVALID = "invalid"
NOT_FOUND = "not-found"
ERROR = "error"
OUTCOMES = (ISSUED, DENIED, RATE_LIMITED, INVALID, NOT_FOUND, ERROR)
COUNTED = (DENIED, RATE_LIMITED)  # refusals before a rate-limit token was taken: counted per window
WINDOW_SECONDS = 60

log = logging.getLogger("customer_auth.audit")


def record(
    store: Store,
    outcome: str,
    *,
    integration: dict[str, Any] | None = None,
    store_code: str | None = None,
    customer_id: int | None = None,
    created: bool | None = None,
    reason: str = "",
    required: bool = False,
    clock: Callable[[], float] = time.time,
) -> None:
    """Appends an entry, or counts a refusal into its window's. A store that cannot take it is logged;
    when the entry is `required` (a token about to be issued) it is also an InternalError, so no token
    leaves without its entry."""
    now = clock()
    integration_id = (integration or {}).get("id")
    entry: dict[str, Any] = {
        "at": now_iso(now),
        "outcome": outcome,
        "integration_id": integration_id,
        "integration_name": (integration or {}).get("name"),
        "store_code": printable(str(store_code)) if store_code else None,
        "customer_id": customer_id,
        "created": created,
        "reason": printable(reason),
    }
    if outcome in COUNTED:  # the store counts it into the entry of the same window, if there is one
        entry["window"] = f"{outcome}:{integration_id or ''}:{int(now // WINDOW_SECONDS)}"
    try:
        store.append_audit(entry)
    except Exception as error:
        log.error("audit trail not written (%s): %s", type(error).__name__, error)
        if required:
            raise InternalError(f"audit trail not written: {type(error).__name__}") from None
