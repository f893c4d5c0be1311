"""Activation records, the store, redaction, and sequences."""
from __future__ import annotations

import json

import pytest

from tests.emulator.conftest import SECRET
from emulator.activations import SUCCESS, Activation, ActivationStore, Redactor, Response
from emulator.controller import EntityNotFound


class FakeClock:
    """Injected time: each reading advances by `step` seconds."""

    def __init__(self, start: float = 1_800_000_000.0, step: float = 0.25) -> None:
        self.now, self.step = start, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def record(i: int, name: str = "a") -> Activation:
    return Activation(f"{i:032x}", "guest", name, i, i + 5, Response(0, {"i": i}),
                      annotations=[{"key": "path", "value": f"guest/p/{name}"}])


def test_store_is_bounded_newest_first_with_skip_limit_and_name() -> None:
    store = ActivationStore(size=5)
    for i in range(8):
        store.add(record(i, "a" if i % 2 else "b"))
    assert len(store) == 5
    assert [a.response.result["i"] for a in store.list()] == [7, 6, 5, 4, 3]
    assert [a.response.result["i"] for a in store.list(limit=2, skip=1)] == [6, 5]
    assert [a.response.result["i"] for a in store.list(name="p/a")] == [7, 5, 3]
    assert [a.response.result["i"] for a in store.list(name="b")] == [6, 4]
    assert store.get(f"{6:032x}").response.result == {"i": 6}
    assert store.get(f"{0:032x}") is None  # fell out of the bounded store


def test_a_stored_record_is_redacted_on_first_read_with_the_secrets_of_its_time() -> None:
    secrets = ["first-secret"]
    redactor = Redactor(lambda: list(secrets))
    store = ActivationStore()
    act = Activation("f" * 32, "guest", "a", 1, 2, Response(0, {"value": "first-secret"}),
                     logs=["2024-01-01T00:00:00.000000Z    stdout: first-secret"])
    store.add(act, redactor.deferred())
    secrets[:] = ["second-secret"]  # rotated before anyone read the record
    stored = store.get(act.activation_id)
    assert "first-secret" not in json.dumps(stored.to_dict())
    assert stored.response.result == {"value": "[REDACTED]"}
    assert store.get(act.activation_id) is stored and store.list() == [stored]  # redacted once
    assert act.response.result == {"value": "first-secret"}  # the caller's record is left as it was


def test_record_shape() -> None:
    d = record(1).to_dict()
    assert set(d) >= {"activationId", "namespace", "name", "version", "subject", "start", "end", "duration",
                      "logs", "response", "annotations"}
    assert d["duration"] == 5
    assert d["response"] == {"status": "success", "success": True, "result": {"i": 1}}  # as OpenWhisk shows it


def test_redactor() -> None:
    refusal = "WARNING graphql-authorization: integration 2 lacks the resource Magento_Customer::retrieve_tokens"
    act = Activation("id", "guest", "a", 0, 1, Response(SUCCESS, {"a": ["topsecret"], "authorization": "Bearer t"}),
                     ["the topsecret is here; x stays", '{"Authorization": "OAuth oauth_signature=abc"}',
                      "Proxy-Authorization: Basic dXNlcjpwdw==", refusal])
    clean = Redactor(lambda: ["topsecret", "x"], not_headers=["graphql-authorization"]).deferred()(act)
    assert clean.logs == ["the [REDACTED] is here; x stays", '{"Authorization": "[REDACTED]"}',
                          "Proxy-Authorization: [REDACTED]", refusal]  # the refusal's reason stays readable
    assert clean.response.result == {"a": ["[REDACTED]"], "authorization": "[REDACTED]"}
    assert act.response.result["a"] == ["topsecret"]  # a copy: the caller's record is left as it was


def test_clock_is_injected_and_records_are_redacted(make_controller) -> None:
    controller = make_controller(clock=FakeClock())
    quiet = controller.invoke("demo/echo", {})  # reads the clock at start and end only
    assert quiet.duration == 250 and quiet.end - quiet.start == 250 and quiet.start == 1_800_000_000_250
    act = controller.invoke("demo/prints", {})
    assert act.response.result == {"echo_secret": SECRET}  # the caller gets the real result
    stored = controller.activations.get(act.activation_id)
    assert stored.response.result == {"echo_secret": "[REDACTED]"}
    assert SECRET not in "".join(stored.logs)
    assert any("stdout: secret is [REDACTED]" in line for line in stored.logs)
    assert any("Authorization: [REDACTED]" in line for line in stored.logs)


def test_secrets_provider_is_used(make_controller) -> None:
    controller = make_controller(secrets=lambda: ["hello on stdout"])
    act = controller.invoke("demo/prints", {})
    assert any(line.endswith("stdout: [REDACTED]") for line in controller.activations.get(act.activation_id).logs)


def test_action_record_annotations(controller) -> None:
    act = controller.invoke("demo/echo", {})
    assert act.annotation("path") == "guest/demo/echo"
    assert act.annotation("kind") == "python:3.11"
    assert act.annotation("limits") == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}
    assert isinstance(act.annotation("waitTime"), int) and isinstance(act.annotation("initTime"), int)
    assert act.name == "echo" and act.namespace == "guest"


def test_unknown_entity(controller) -> None:
    with pytest.raises(EntityNotFound):
        controller.invoke("demo/nope", {})


def test_sequence_data_flow_defaults_and_records(make_controller) -> None:
    controller = make_controller(clock=FakeClock())
    seq = controller.invoke("demo/pipeline", {"first_only": "hi"})
    assert seq.response.status_code == 0
    result = seq.response.result
    assert result["trail"] == ["a", "b", "c"]
    # each component's own defaults sit under the payload: a's COLOR flows on and wins over b's default
    assert result["seen"] == {
        "a": {"COLOR": "red", "MINE": "a-default", "first_only": "hi"},
        "b": {"COLOR": "red", "MINE": "b-default", "first_only": None},
        "c": {"COLOR": "red", "MINE": "c-default", "first_only": None},
    }
    records = controller.activations.list()
    assert len(records) == 4 and records[0].activation_id == seq.activation_id
    components = [controller.activations.get(i) for i in seq.logs]
    assert [c.name for c in components] == ["step-a", "step-b", "step-c"]
    assert all(c.cause == seq.activation_id and c.annotation("causedBy") == "sequence" for c in components)
    assert seq.duration == sum(c.duration for c in components) == 750
    assert seq.annotation("kind") == "sequence" and seq.annotation("topmost") is True
    assert seq.to_dict()["logs"] == seq.logs


def test_sequence_stops_at_first_error(controller) -> None:
    seq = controller.invoke("demo/pipeline", {"fail_at": "b"})
    assert seq.response.status_code == 1
    assert seq.response.result == {"error": "failed at b", "trail": ["a", "b"]}
    assert [controller.activations.get(i).name for i in seq.logs] == ["step-a", "step-b"]
    assert len(controller.activations) == 3
