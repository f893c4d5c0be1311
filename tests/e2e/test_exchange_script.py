"""scripts/exchange against a running emulator, as a developer runs it: the token alone for a shell
variable, and for a refusal, which activation refused and why (the client's answer only says Commerce's
words; the emulator's activation log holds the reason, read through its REST API)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from customer_auth.integrations import CREDENTIAL_KEYS, Integration
from tests.conftest import ROOT

pytestmark = pytest.mark.parametrize("any_store_url", ["tinydb"], indirect=True)  # the scripts, not the stores


def exchange(served: str, credentials: Path, *args: str, email: str = "roni_cost@example.com",
             path: str = "/graphql") -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("OW_AUTH", "EMULATOR_HOST", "EMULATOR_PORT")}
    return subprocess.run([str(ROOT / "scripts" / "exchange"), "--email", email, "--firstname", "Roni", "--lastname",
                           "Cost", "--url", served + path, "--credentials", str(credentials), *args],
                          capture_output=True, text=True, env=environ, timeout=120)


def credentials_file(tmp_path: Path, integration: Integration, **changed: str) -> Path:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({**{k: integration.credentials()[k] for k in CREDENTIAL_KEYS}, **changed}))
    return path


def refusing(controller, stderr: str) -> tuple[str, str]:
    """(the activation id, the reason) of the line the script printed, checked against the records."""
    line = stderr.splitlines()[-1]
    head, _, reason = line.partition(" refused: ")
    words = head.split()
    assert words[0] == "activation" and len(words) == 3, line
    record = controller.activations.get(words[1])
    assert record is not None and f"({record.annotation('path').partition('/')[2]})" == words[2], line
    return words[1], reason


def test_the_token_alone_for_a_shell_variable(emulator, served, tmp_path) -> None:
    integration = emulator[2].add_integration(Integration(name="storefront"))
    done = exchange(served, credentials_file(tmp_path, integration), "--token")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    token = done.stdout.removesuffix("\n")
    assert "\n" not in token and token.count(".") == 2 and token.startswith("eyJ")


def test_a_refused_signature_names_its_activation_and_reason(emulator, served, tmp_path) -> None:
    app, controller, store = emulator
    integration = store.add_integration(Integration(name="storefront"))
    done = exchange(served, credentials_file(tmp_path, integration, consumer_secret="0" * 32), "--token")
    assert done.returncode == 1 and done.stdout == ""
    assert "You do not have permission to access this resource." in done.stderr  # the client's answer
    activation, reason = refusing(controller, done.stderr)
    assert controller.activations.get(activation).name == "verify-oauth"
    assert reason.startswith("graphql-authorization: ") and f"POST {served}/graphql" in reason
    assert "0" * 32 not in done.stderr and integration.consumer_secret not in done.stderr


def test_refused_input_through_the_web_sequence(emulator, served, tmp_path) -> None:
    app, controller, store = emulator
    integration = store.add_integration(Integration(name="storefront"))
    done = exchange(served, credentials_file(tmp_path, integration), email="roni_cost@example",
                    path="/api/v1/web/guest/customer-auth/exchange-external-customer-token")
    assert done.returncode == 1 and json.loads(done.stdout)["errors"][0]["message"] == (
        '"Email" is not a valid email address.')
    activation, reason = refusing(controller, done.stderr)
    assert controller.activations.get(activation).name == "upsert-customer"
    assert reason == 'graphql-input: "Email" is not a valid email address.'


def test_without_the_key_the_id_says_where_the_reason_is(emulator, served, tmp_path) -> None:
    """A server whose REST API the key does not open (a remote OpenWhisk): the id, and where to look."""
    integration = emulator[2].add_integration(Integration(name="storefront"))
    done = exchange(served, credentials_file(tmp_path, integration, access_token="0" * 32), "--auth", "not:ours")
    last = done.stderr.splitlines()[-1]
    assert done.returncode == 1 and last.startswith("activation ") and "its logs hold the reason" in last
    assert emulator[1].activations.get(last.split()[1].rstrip(":")).name == "exchange-external-customer-token"
