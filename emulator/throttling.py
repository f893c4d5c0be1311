"""Action throttling: what happens to an activation no worker can take in time.

OpenWhisk keeps a queue per action (its scheduler's MemoryQueue) with a bound on its length
(`max-retention-size`) and on how long an activation may wait in it (`max-retention-ms`). An
activation it cannot take is not left hanging: the controller refuses it with HTTP 429 and
`{"error": "Too many requests", "code": <transaction id>}` (FPCEntitlement), and one already queued is
completed with an error record (MemoryQueue.completeErrorActivation), in these words:
- the queue is full: `Too many concurrent requests in flight.` (Messages.tooManyConcurrentRequests);
- it waited past the bound: `Activation processing is not initiated for <ms> ms` (MemoryQueue.dropOld).

The emulator does both at once: the throttled activation gets its record (a developer error, as
OpenWhisk's default `fail-throttle-as-whisk-error = false` makes it) and whoever waits for it (a web
call, a blocking REST invoke, /graphql) gets the 429 at once, the record's id in
`x-openwhisk-activation-id`. OpenWhisk answers a queued activation it drops with that error record
instead (a web call sees 400, a blocking invoke 502); a 429 tells the client what it can do: retry later.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emulator.activations import Activation

TOO_MANY_REQUESTS = "Too many requests"  # the controller's 429 (FPCEntitlement.checkFPCConcurrentThrottle)
TOO_MANY_CONCURRENT_REQUESTS = "Too many concurrent requests in flight."


def not_initiated(waited_ms: int) -> str:
    """The record's error for an activation that waited its whole bound for a worker."""
    return f"Activation processing is not initiated for {waited_ms} ms"


class Throttled(Exception):
    """No worker took the activation in time: its action's queue was full, or it waited the bound.

    `reason` is the record's error, in OpenWhisk's words; `wait_ms` how long it waited; `activation`
    the record the controller made of it (of the sequence, when a component was throttled)."""

    status = 429

    def __init__(self, reason: str, wait_ms: int = 0, activation: Activation | None = None) -> None:
        super().__init__(reason)
        self.reason, self.wait_ms, self.activation = reason, wait_ms, activation

    @property
    def activation_id(self) -> str | None:
        return self.activation.activation_id if self.activation else None
