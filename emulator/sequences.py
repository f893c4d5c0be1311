"""Sequences as OpenWhisk's controller runs them (SequenceActions.scala).

The result of one component is the payload of the next (each component's own defaults are merged
under it by the invoke function); the params sent to the sequence reach only the first component.
The sequence stops at the first component that does not succeed, and that component's response
becomes the sequence's. Its record lists the component activation ids as logs, and its duration
is the sum of theirs. A component no worker took in time (`Throttled`) ends the sequence the same
way, with its error record; the sequence's record is then carried on by the Throttled raised again.
"""
from __future__ import annotations

from typing import Any, Callable

from emulator.activations import Activation, Response, new_activation_id
from emulator.manifest import Sequence, every_limit
from emulator.throttling import Throttled

# A component's activation, or only a response when it could not be run at all (deleted since the
# sequence was deployed: OpenWhisk then makes no record and lists no id).
InvokeComponent = Callable[[str, dict[str, Any], str], Activation | Response]


def run_sequence(seq: Sequence, params: dict[str, Any], invoke: InvokeComponent, *, namespace: str,
                 clock: Callable[[], float], cause: str | None = None,
                 activation_id: str | None = None) -> Activation:
    """Run the components in order; `invoke(fqn, payload, cause_id)` runs one component (raising
    Throttled with the component's record when it was throttled)."""
    seq_id = activation_id or new_activation_id()
    start = int(clock() * 1000)
    payload = dict(params)
    components: list[Activation] = []
    last = Response(0, payload)  # the input, as OpenWhisk's accounting starts (a sequence has components)
    throttled: Throttled | None = None
    for fqn in seq.components:
        try:
            act = invoke(fqn, payload, seq_id)
        except Throttled as refused:
            throttled, act = refused, refused.activation
            if act is None:  # raised by an invoke that kept no record: the sequence has none to list
                raise
        if isinstance(act, Response):
            last = act
            break
        components.append(act)
        last = act.response
        if not last.success:
            break
        payload = last.result
    annotations: list[dict[str, Any]] = [
        {"key": "path", "value": f"{namespace}/{seq.fqn}"},
        {"key": "kind", "value": "sequence"},
        {"key": "limits", "value": every_limit()},
    ]
    if cause is None:
        annotations.append({"key": "topmost", "value": True})
    else:
        annotations.append({"key": "causedBy", "value": "sequence"})
    record = Activation(
        activation_id=seq_id, namespace=namespace, name=seq.name, start=start,
        end=int(clock() * 1000), response=Response(last.status_code, last.result),
        logs=[a.activation_id for a in components], annotations=annotations, version=seq.version, cause=cause,
        duration=sum(a.duration or 0 for a in components),
    )
    if throttled is not None:
        raise Throttled(throttled.reason, throttled.wait_ms, record)
    return record
