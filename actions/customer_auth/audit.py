"""The audit trail: one entry for every exchange, whatever its outcome.

An integration credential can mint a token for any customer, so who got a token for whom, and who was
refused, is kept (time, integration, store, customer id, created or found, outcome), readable with
`scripts/audit`. An entry never holds a secret: ids and names only, and the refusal's category.
"""
from __future__ import annotations

import logging
from typing import Any

from .errors import InternalError
from .records import now_iso
from .store import Store

ISSUED = "issued"
DENIED = "denied"
RATE_LIMITED = "rate-limited"
INVALID = "invalid"
NOT_FOUND = "not-found"
ERROR = "error"
OUTCOMES = (ISSUED, DENIED, RATE_LIMITED, INVALID, NOT_FOUND, ERROR)

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
) -> None:
    """Appends an entry. A store that cannot take it is logged; when the entry is `required` (a token
    about to be issued) it is also an InternalError, so no token leaves without its entry."""
    entry = {
        "at": now_iso(),
        "outcome": outcome,
        "integration_id": (integration or {}).get("id"),
        "integration_name": (integration or {}).get("name"),
        "store_code": store_code or None,
        "customer_id": customer_id,
        "created": created,
        "reason": reason,
    }
    try:
        store.append_audit(entry)
    except Exception as error:
        log.error("audit trail not written (%s): %s", type(error).__name__, error)
        if required:
            raise InternalError(f"audit trail not written: {type(error).__name__}") from None
