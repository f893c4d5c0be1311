"""Claim 10, request text reaches no terminal raw, and refusals cannot grow the audit trail: control
characters a client sends (in Host, X-Forwarded-Host, the path, the Store header) are escaped in the
request log, the activation logs, the audit trail and `scripts/audit`; refusals before authentication
are counted per minute, on both storage backends, while every issued token keeps an entry of its own."""
from __future__ import annotations

import json
import socket
import subprocess
import time

import pytest
import requests

from customer_auth import audit
from customer_auth.integrations import Integration
from customer_auth.store import open_store
from emulator.rest_api import GUEST_KEY
from tests.conftest import (
    ROOT, SEED_CUSTOMER, emulator_process, race, run_sequence, settings, signed_web_params,
)

SEQUENCE = "/api/v1/web/guest/customer-auth/exchange-external-customer-token"
# An OSC sequence that sets the terminal's title, a bell, NEL (a line break to splitlines), a bidi override.
HOSTILE = "evil\x1b]0;pwned\x07\x85\u202e.example"
RAW = ("\x1b", "\x07", "\x85", "\u202e")


def no_raw_control(text: str) -> None:
    assert not any(c in text for c in RAW), [line for line in text.splitlines() if any(c in line for c in RAW)][:3]


def test_printable_escapes_controls_and_keeps_the_rest():
    from customer_auth.printable import printable

    assert printable("plain ascii, 100%") == "plain ascii, 100%"
    assert printable("Zoë – 東京 👩‍👩‍👧") == "Zoë – 東京 👩‍👩‍👧"  # letters, dashes, a joined emoji
    assert printable("a\x1b[2Jb\nc\x85d\u2028e\u202ef\ud800") == (
        "a\\u001b[2Jb\\u000ac\\u0085d\\u2028e\\u202ef\\ud800")
    assert printable("line 1\nline\t2", keep="\n") == "line 1\nline\\u00092"
    assert json.loads(printable(json.dumps({"a": "x\x85y"}, ensure_ascii=False))) == {"a": "x\x85y"}


@pytest.mark.parametrize("server", ["flask", "gunicorn"])
def test_hostile_headers_and_paths_reach_every_log_escaped(tmp_path, server):
    """Through a real emulator: X-Forwarded-Host and Store quoted by verify-oauth's refusal (its
    activation log, the audit trail), a path in the request log; none reaches a terminal raw.
    (gunicorn refuses C0 controls in a header itself: there, NEL and a bidi override get through.)"""
    hostile, store, marker = ((HOSTILE, "s\x1b[31m", "\\u001b]0;pwned\\u0007") if server == "flask"
                              else ("evil\x85\u202e.example", "s\x85", "\\u0085"))
    with emulator_process(tmp_path, server=server) as emulator:
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=30) as sock:
            sock.sendall((f"POST {SEQUENCE} HTTP/1.1\r\nHost: 127.0.0.1:{emulator.port}\r\n"
                          f"X-Forwarded-Host: {hostile}\r\nStore: {store}\r\nContent-Type: application/json\r\n"
                          "Content-Length: 2\r\nConnection: close\r\n\r\n{}").encode("utf-8"))
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        requests.get(emulator.base + "/no/such/%C2%85%E2%80%AE%1B[2J", timeout=10)
        records = requests.get(f"{emulator.base}/api/v1/namespaces/guest/activations?docs=true",
                               auth=tuple(GUEST_KEY.split(":", 1)), timeout=10).json()
        verify = next(r for r in records if r["name"] == "verify-oauth")
        logged = "\n".join(verify["logs"])
        no_raw_control(logged)
        assert marker in logged  # the refusal's reason names the host, escaped
        trail = subprocess.run([str(ROOT / "scripts" / "audit"), "--store-url", emulator.store_url],
                               capture_output=True, text=True, check=True).stdout
        no_raw_control(trail)
        assert marker in trail and store.encode().decode("latin-1").replace("\x1b", "\\u001b").replace(
            "\x85", "\\u0085") in trail
    output = emulator.output()
    assert "pwned" not in output or "\x1b]0;pwned" not in output
    no_raw_control(output.replace("\x1b[", ""))  # werkzeug's own styling of its banner aside
    if server == "flask":
        assert "/no/such/\\u0085\\u202e" in output


def test_the_librarys_log_lines_are_escaped_on_openwhisk_too(actions, store_url, integration, capsys):
    """Deployed, an action's lines go to `wsk activation logs` as printed: the library escapes them."""
    params = signed_web_params(integration, extra_headers={"x-forwarded-host": HOSTILE})
    assert actions["verify-oauth"].main({**params, **settings(store_url)})["error"]["statusCode"] == 401
    out = capsys.readouterr().out
    no_raw_control(out)
    assert "\\u001b]0;pwned" in out


# The audit trail ----------------------------------------------------------------------------------------
def test_refusals_before_authentication_are_counted_issued_tokens_are_not(actions, any_store_url):
    store = open_store(any_store_url)
    integration = store.add_integration(Integration(name="shop"))
    env = {"STORE_URL": any_store_url, "CRYPT_KEY": settings(any_store_url)["CRYPT_KEY"]}
    forged = Integration(**{**integration.to_record(), "consumer_secret": "f" * 32})
    stranger = Integration(name="stranger")
    for _ in range(20):
        run_sequence(signed_web_params(forged), env, actions)  # names the integration: denied, counted
        run_sequence(signed_web_params(stranger), env, actions)  # names none: denied, counted apart
    for n in range(3):
        run_sequence(signed_web_params(integration, body={"customer": {**SEED_CUSTOMER, "email": f"c{n}@example.com"}}),
                     env, actions)
    entries = store.audit_entries(100)
    issued = [e for e in entries if e["outcome"] == "issued"]
    assert [(e["customer_id"], e["count"]) for e in issued] == [(3, 1), (2, 1), (1, 1)]
    denied = [e for e in entries if e["outcome"] == "denied"]
    assert len(denied) <= 4  # one per integration named, per minute: two, or four across a minute's turn
    assert sum(e["count"] for e in denied if e["integration_id"] == integration.id) == 20
    assert sum(e["count"] for e in denied if e["integration_id"] is None) == 20
    counted = next(e for e in denied if e["integration_id"] == integration.id)
    assert "signature is invalid" in counted["reason"] and counted["last_at"] >= counted["at"]


def _refuse(url: str, times: int, barrier) -> None:
    store = open_store(url)
    barrier.wait()
    for _ in range(times):
        audit.record(store, audit.DENIED, reason="bad signature", clock=lambda: 1_800_000_000.0)


def test_concurrent_refusals_of_one_window_make_one_entry(any_store_url):
    """Several processes at once, one minute: one entry counts them all, on either backend."""
    store = open_store(any_store_url)
    race(_refuse, (any_store_url, 25), processes=4)
    audit.record(store, audit.DENIED, reason="next minute", clock=lambda: 1_800_000_060.0)
    entries = store.audit_entries(10)
    assert [(e["reason"], e["count"]) for e in entries] == [("next minute", 1), ("bad signature", 100)]
    assert entries[1]["at"] == "2027-01-15 08:00:00"


def test_a_flood_of_refusals_leaves_the_tinydb_trail_at_its_size(store_url, tmp_path):
    store = open_store(store_url)
    audit.record(store, audit.DENIED, reason="first", clock=lambda: 1_800_000_000.0)
    size = (tmp_path / "store.audit.jsonl").stat().st_size
    for n in range(1, 2000):
        audit.record(store, audit.DENIED, reason=f"try {n}", clock=lambda: 1_800_000_000.0 + n % 60)
    assert (tmp_path / "store.audit.jsonl").stat().st_size == size
    assert store.audit_entries(5)[0]["count"] == 2000


def test_scripts_audit_prints_no_control_character(tmp_path):
    """Entries an earlier version stored as given (or any text an entry may hold) are printed escaped,
    and `--json` stays JSON."""
    url = f"tinydb://{tmp_path}/store.json"
    open_store(url).append_audit({"at": "2026-01-01 00:00:00", "outcome": "denied", "integration_id": None,
                                  "integration_name": None, "store_code": "a\x1b[31m", "customer_id": None,
                                  "created": None, "reason": f"refused for {HOSTILE}"})
    shown = subprocess.run([str(ROOT / "scripts" / "audit"), "--store-url", url], capture_output=True, text=True,
                           check=True).stdout
    no_raw_control(shown)
    assert "refused for evil\\u001b]0;pwned\\u0007\\u0085\\u202e.example" in shown
    as_json = subprocess.run([str(ROOT / "scripts" / "audit"), "--store-url", url, "--json"], capture_output=True,
                             text=True, check=True).stdout
    no_raw_control(as_json)
    assert json.loads(as_json)["reason"] == f"refused for {HOSTILE}"


def test_the_audit_entry_escapes_what_it_quotes(store_url):
    store = open_store(store_url)
    audit.record(store, audit.INVALID, integration={"id": 1, "name": "n"}, store_code="s\x85",
                 reason="bad\x1b[2J", clock=time.time)
    entry = store.audit_entries(1)[0]
    assert (entry["store_code"], entry["reason"]) == ("s\\u0085", "bad\\u001b[2J")
