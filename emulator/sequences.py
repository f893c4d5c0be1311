"""Sequences as OpenWhisk's controller runs them (SequenceActions.scala).

The result of one component is the payload of the next (each component's own defaults are merged
under it by the invoke function); the params sent to the sequence reach only the first component.
The sequence stops at the first component that does not succeed, and that component's response
becomes the sequence's. Its record lists the component activation ids as logs, and its duration
is the sum of theirs.
"""
from __future__ import annotations

from typing import Any, Callable

from emulator.activations import Activation, Response, new_activation_id
from emulator.manifest import Sequence, every_limit

InvokeComponent = Callable[[str, dict[str, Any], str], Activation]


def run_sequence(seq: Sequence, params: dict[str, Any], invoke: InvokeComponent, *, namespace: str,
                 clock: Callable[[], float], cause: str | None = None,
                 activation_id: str | None = None) -> Activation:
    """Run the components in order; `invoke(fqn, payload, cause_id)` runs one component."""
    seq_id = activation_id or new_activation_id()
    start = int(clock() * 1000)
    payload = dict(params)
    components: list[Activation] = []
    for fqn in seq.components:
        act = invoke(fqn, payload, seq_id)
        components.append(act)
        if not act.response.success:
            break
        payload = act.response.result
    last = components[-1]
    annotations: list[dict[str, Any]] = [
        {"key": "path", "value": f"{namespace}/{seq.fqn}"},
        {"key": "kind", "value": "sequence"},
        {"key": "limits", "value": every_limit()},
    ]
    if cause is None:
        annotations.append({"key": "topmost", "value": True})
    else:
        annotations.append({"key": "causedBy", "value": "sequence"})
    return Activation(
        activation_id=seq_id, namespace=namespace, name=seq.name, start=start,
        end=int(clock() * 1000), response=Response(last.response.status_code, last.response.result),
        logs=[a.activation_id for a in components], annotations=annotations, version=seq.version, cause=cause,
        duration=sum(a.duration or 0 for a in components),
    )
