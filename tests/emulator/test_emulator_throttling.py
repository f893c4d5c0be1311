"""The queue in front of an action's workers: first come, first served; bounded in length and in wait;
what it cannot take is throttled with OpenWhisk's 429 (and Commerce's answer on /graphql); workers
started ahead of load. Nothing here is timed: the gate fixture holds a worker until the test opens it."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from customer_auth.openwhisk import TooManyRequests, rest_invoker
from emulator.activations import DEVELOPER_ERROR, STATUS_NAMES
from emulator.app import create_app
from emulator.bundle import emulator_app
from emulator.controller import Controller
from emulator.manifest import load_manifest
from emulator.rest_api import GUEST_KEY
from emulator.throttling import TOO_MANY_CONCURRENT_REQUESTS, Throttled
from tests.conftest import serving
from tests.emulator.conftest import FIXTURES, authorized

EXCHANGE = ("mutation Exchange($input: ExchangeExternalCustomerTokenInput!) { exchangeExternalCustomerToken"
            "(input: $input) { token } }")


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait for a state the test set up (a worker held, an activation queued), never for a duration."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.002)


class Gate:
    """The gate fixture's switch: `hold` starts an activation that keeps its worker until `open`."""

    def __init__(self, controller: Controller, folder: Path, fqn: str = "demo/gate") -> None:
        self.controller, self.path, self.fqn = controller, folder / "gate", fqn

    @contextmanager
    def hold(self) -> Iterator[Any]:
        future = self.controller.start(self.fqn, {"gate": str(self.path), "n": "holder"})
        eventually(lambda: Path(f"{self.path}.entered").exists(), "the gate holds its worker")
        try:
            yield future
        finally:
            self.path.touch()
            future.result(timeout=20)


def queued(controller: Controller, fqn: str, count: int) -> None:
    eventually(lambda: controller.waiting_count(fqn) == count, f"{count} activations queued for {fqn}")


def test_waiting_activations_get_the_worker_in_their_order_of_arrival(make_controller, tmp_path: Path) -> None:
    controller = make_controller(workers_per_action=1)
    results: dict[int, dict[str, Any]] = {}

    def invoke(n: int) -> None:
        results[n] = controller.invoke("demo/gate", {"n": n}).response.result

    threads = []
    with Gate(controller, tmp_path).hold() as holder:
        for n in range(6):  # each arrives once the one before it is queued
            threads.append(threading.Thread(target=invoke, args=(n,)))
            threads[-1].start()
            queued(controller, "demo/gate", n + 1)
    for t in threads:
        t.join()
    first = holder.result().response.result["call"]
    assert [results[n]["call"] for n in range(6)] == [first + 1 + n for n in range(6)]
    assert len({r["pid"] for r in results.values()}) == 1  # one worker, handed from one to the next


def test_a_full_queue_throttles_with_a_record(make_controller, tmp_path: Path) -> None:
    controller = make_controller(workers_per_action=1, queue_length=1)
    waiting = []
    with Gate(controller, tmp_path).hold():
        waiting.append(controller.start("demo/gate", {"n": "queued"}))
        queued(controller, "demo/gate", 1)
        with pytest.raises(Throttled) as refused:
            controller.invoke("demo/gate", {"n": "one too many"})
    assert waiting[0].result(timeout=10).response.success  # the queued one still ran
    record = controller.activations.get(refused.value.activation_id)
    assert record.response.status_code == DEVELOPER_ERROR
    assert record.response.result == {"error": TOO_MANY_CONCURRENT_REQUESTS}  # OpenWhisk's words
    assert record.name == "gate" and record.annotation("waitTime") == 0


def test_no_activation_waits_for_a_busy_worker_past_its_time_limit(make_controller, tmp_path: Path) -> None:
    """gate-short (limit 500 ms), one worker, every activation holding it until cut at its limit: of
    four queued behind the holder, at most one gets a worker within its limit (the one started when
    the holder was cut); the others are throttled when their wait reaches the limit, not left waiting
    for the workers after it."""
    controller = make_controller(workers_per_action=1)
    gate = Gate(controller, tmp_path, "demo/gate-short")
    with gate.hold() as holder:
        waiting = []
        for n in range(4):
            waiting.append(controller.start("demo/gate-short", {"gate": str(gate.path), "n": n}))
            queued(controller, "demo/gate-short", n + 1)
        throttled = []
        for future in waiting:
            try:
                future.result(timeout=10)
            except Throttled as refused:
                throttled.append(refused)
        assert holder.result(timeout=10).annotation("timeout") is True
    assert len(throttled) >= 3
    for refused in throttled:
        record = controller.activations.get(refused.activation_id)
        assert record.response.status_code == DEVELOPER_ERROR
        assert record.response.result == {"error": "Activation processing is not initiated for 500 ms"}
        assert record.annotation("waitTime") >= 500  # it waited its limit, then no longer


def test_a_throttled_component_ends_its_sequence_with_a_record(make_controller, tmp_path: Path) -> None:
    controller = make_controller(workers_per_action=1, queue_length=0)
    with Gate(controller, tmp_path).hold():
        with pytest.raises(Throttled) as refused:
            controller.invoke("demo/gated", {})
    sequence = controller.activations.get(refused.value.activation_id)
    assert sequence.name == "gated" and sequence.response.status_code == DEVELOPER_ERROR
    assert sequence.response.result == {"error": TOO_MANY_CONCURRENT_REQUESTS}
    step, gate = (controller.activations.get(i) for i in sequence.logs)
    assert step.name == "step-a" and step.response.success  # what ran before it is listed
    assert gate.name == "gate" and gate.cause == sequence.activation_id


def test_web_action_and_rest_invoke_answer_openwhisk_429(make_controller, tmp_path: Path) -> None:
    controller = make_controller(workers_per_action=1, queue_length=0)
    client = authorized(create_app(controller).test_client())
    with Gate(controller, tmp_path).hold():
        answers = [client.post("/api/v1/web/guest/demo/gate.json", json={"n": 1}),
                   client.post("/api/v1/web/guest/demo/gated.json", json={}),
                   client.post("/api/v1/namespaces/_/actions/demo/gate?blocking=true", json={"n": 2})]
    for answer in answers:
        assert answer.status_code == 429
        body = answer.get_json()
        assert set(body) == {"error", "code"} and body["error"] == "Too many requests"
        record = client.get(f"/api/v1/namespaces/_/activations/{answer.headers['x-openwhisk-activation-id']}")
        assert record.get_json()["response"]["result"] == {"error": TOO_MANY_CONCURRENT_REQUESTS}


def test_a_non_blocking_invoke_that_is_throttled_leaves_its_record(make_controller, tmp_path: Path) -> None:
    controller = make_controller(workers_per_action=1, queue_length=0)
    client = authorized(create_app(controller).test_client())
    with Gate(controller, tmp_path).hold():
        accepted = client.post("/api/v1/namespaces/_/actions/demo/gate", json={"n": 1})
        assert accepted.status_code == 202
        url = f"/api/v1/namespaces/_/activations/{accepted.get_json()['activationId']}"
        eventually(lambda: client.get(url).status_code == 200, "the throttled activation's record")
    assert client.get(url).get_json()["response"]["status"] == STATUS_NAMES[DEVELOPER_ERROR]  # as OpenWhisk writes it


def test_graphql_answers_commerce_too_many_requests(tmp_path: Path) -> None:
    """/graphql answers as Commerce's backpressure does: HTTP 200, the field null, its error worded
    `Too Many Requests` in category graphql-too-many-requests; the answer names the sequence's record."""
    manifest = load_manifest(FIXTURES / "busy_bundle.config.yaml", {"STORE_URL": f"tinydb://{tmp_path}/store.json"})
    app, controller, store = emulator_app(manifest, workers_per_action=1, queue_length=0, state_file=None)
    try:
        with Gate(controller, tmp_path, "customer-auth/verify-oauth").hold():
            answer = app.test_client().post("/graphql", json={"query": EXCHANGE, "variables": {"input": {
                "customer": {"email": "a@example.com", "firstname": "A", "lastname": "B"}}}})
        assert answer.status_code == 200
        assert answer.get_json() == {
            "errors": [{"message": "Too Many Requests", "locations": [{"line": 1, "column": 66}],
                        "path": ["exchangeExternalCustomerToken"],
                        "extensions": {"category": "graphql-too-many-requests"}}],
            "data": {"exchangeExternalCustomerToken": None}}
        sequence = controller.activations.get(answer.headers["x-openwhisk-activation-id"])
        assert sequence.name == "exchange-external-customer-token"
        assert sequence.response.result == {"error": TOO_MANY_CONCURRENT_REQUESTS}
    finally:
        controller.shutdown()
        store.close()


def test_the_rest_invoker_of_a_deployed_action_raises_on_429(make_controller, tmp_path: Path) -> None:
    """What the deployed graphql action meets when OpenWhisk sheds load: its invoker raises
    TooManyRequests (answered as on the emulator's /graphql), it does not read 429 as a result."""
    controller = make_controller(workers_per_action=1, queue_length=0)
    with serving(create_app(controller), controller) as base, Gate(controller, tmp_path).hold():
        invoke = rest_invoker({"__OW_API_HOST": base, "__OW_API_KEY": GUEST_KEY, "__OW_NAMESPACE": "guest"})
        with pytest.raises(TooManyRequests, match="Too many requests"):
            invoke("demo/gate", {"n": 1})


def test_prewarmed_workers_take_the_first_burst_warm(make_controller) -> None:
    controller = make_controller(workers_per_action=2, prewarm=5)  # at most the pool's size
    assert controller.worker_count("demo/echo") == 0  # nothing before it is asked to
    controller.start_prewarmed()
    pool = controller._pools["demo/echo"]
    eventually(lambda: pool.idle() == 2, "two warm workers of demo/echo")
    assert controller.worker_count("demo/step-a") == 2  # every action of the manifest
    burst = [controller.start("demo/echo", {}) for _ in range(2)]
    records = [f.result(timeout=10) for f in burst]
    assert all(r.annotation("initTime") is None for r in records)  # neither waited for a start
    assert controller.worker_count("demo/echo") == 2
    controller.reload(env={"FIXTURE_SECRET": "rotated"})  # new workers for the new settings, warm again
    eventually(lambda: controller._pools["demo/echo"].idle() == 2, "demo/echo warm again after a reload")
    assert controller.invoke("demo/echo", {}).response.result["params"]["API_SECRET"] == "rotated"


def test_a_worker_started_on_demand_reports_its_init_to_the_activation_that_waited(make_controller) -> None:
    controller = make_controller(workers_per_action=1)
    first, second = controller.invoke("demo/echo", {}), controller.invoke("demo/echo", {})
    assert isinstance(first.annotation("initTime"), int) and second.annotation("initTime") is None


def test_emulate_options_bound_the_queue_and_prewarm() -> None:
    from emulator.__main__ import PREWARM, parse_args
    from emulator.runtime.pool import QUEUE_LENGTH

    args = parse_args([], {})
    assert (args.prewarm, args.queue_length) == (PREWARM, QUEUE_LENGTH)
    args = parse_args([], {"EMULATOR_PREWARM": "0", "EMULATOR_QUEUE_LENGTH": "3"})
    assert (args.prewarm, args.queue_length) == (0, 3)
    with pytest.raises(SystemExit):
        parse_args(["--queue-length", "-1"], {})
