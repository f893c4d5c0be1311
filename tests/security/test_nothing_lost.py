"""Claim 2, nothing lost: the emulator and its workers killed with SIGKILL again and again during a
stream of new customers; after each restart the store opens and every customer whose token reached
the client exists. The TinyDB file is never left unreadable. Both storage backends, and PostgreSQL
through PgBouncer (where a killed client's connection is PgBouncer's to clean up)."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from customer_auth.integrations import Integration
from customer_auth.oauth1 import SignedRequest, authorization_header
from customer_auth.store import open_store
from customer_auth.store.tinydb_store import TinyDBStore
from tests.conftest import ROOT, also_through_pgbouncer, emulator_env, free_port, token_customer_id, wait_until_up

ROUNDS = 5


def start(port: int, store_url: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "emulator", "--port", str(port),
                             "--manifest", str(ROOT / "app.config.yaml")], cwd=cwd,
                            env=emulator_env(store_url, RATE_LIMIT_PER_MINUTE="0"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def exchange(base: str, integration: Integration, email: str) -> int | None:
    """The customer id of the token the client got, or None when no token reached it."""
    body = json.dumps({"customer": {"email": email, "firstname": "F", "lastname": "L"}})
    url = f"{base}/api/v1/web/guest/customer-auth/exchange-external-customer-token"
    request = SignedRequest("POST", url, {"content-type": "application/json"}, body)
    headers = {"Content-Type": "application/json",
               "Authorization": authorization_header(request, integration, int(time.time()), os.urandom(8).hex())}
    try:
        answer = requests.post(url, data=body, headers=headers, timeout=10)
        token = answer.json()["token"] if answer.status_code == 200 else None
    except (requests.RequestException, ValueError, KeyError):
        return None
    return token_customer_id(token) if token else None


@pytest.mark.slow
@also_through_pgbouncer
def test_sigkill_during_a_stream_of_new_customers(any_store_url, tmp_path):
    integration = open_store(any_store_url).add_integration(Integration(name="stream"))
    confirmed: dict[str, int] = {}
    counter = 0
    rng = random.Random(7)
    for round_ in range(ROUNDS):
        port = free_port()
        proc = start(port, any_store_url, tmp_path)
        base = f"http://127.0.0.1:{port}"
        stop = threading.Event()

        def stream() -> None:
            nonlocal counter
            while not stop.is_set():
                counter += 1
                email = f"c{counter}@example.com"
                customer_id = exchange(base, integration, email)
                if customer_id is not None:
                    confirmed[email] = customer_id
                elif not stop.is_set():
                    time.sleep(0.05)  # not up yet

        wait_until_up(base)
        before = len(confirmed)
        client = threading.Thread(target=stream)
        client.start()
        deadline = time.monotonic() + 30
        while len(confirmed) == before and time.monotonic() < deadline:  # warm: the first exchange is through
            time.sleep(0.02)
        time.sleep(0.2 + rng.random())
        os.killpg(proc.pid, signal.SIGKILL)  # the emulator and every worker, at once
        proc.wait()
        stop.set()
        client.join()
        assert len(confirmed) > before, f"round {round_}: no exchange completed before the kill"

        if any_store_url.startswith("tinydb:"):
            path = Path(any_store_url.removeprefix("tinydb://"))
            files = [path, *path.with_name(path.stem + ".customers").glob("*.json")]
            assert len(files) > 1  # the main file and the customer files the stream wrote
            for file in files:
                json.loads(file.read_text())  # never unreadable
            store = TinyDBStore(str(path))  # a fresh open, as after a restart
        else:
            store = open_store(any_store_url)
        for email, customer_id in confirmed.items():
            found = store.find_customer(1, email)
            assert found is not None and found.id == customer_id, (round_, email)
