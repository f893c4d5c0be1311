"""scripts/package + scripts/deploy into a running emulator through OpenWhisk's REST API, then the seed's
exchange through the deployed web sequence and through the deployed `graphql` action."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from customer_auth.integrations import Integration
from customer_auth.store import open_store
from emulator.bundle import emulator_app
from emulator.manifest import load_manifest
from emulator.rest_api import GUEST_KEY
from social_login.settings import CREDENTIALS
from tests.conftest import CRYPT_KEY, ROOT, SEED_CUSTOMER, oauth_client, serving
from tests.social.forge import KeySet
from tests.social.openid_provider import OpenIDProvider

import deploy  # scripts/lib/deploy.py, on sys.path through tests/conftest.py

SEED_MUTATION = """mutation {
  exchangeExternalCustomerToken(input: {customer: {firstname: "Roni" lastname: "Cost"
    email: "roni_cost@example.com" is_subscribed: false}}) { customer { email firstname lastname is_subscribed } token }
}"""


@pytest.fixture
def openwhisk(tmp_path: Path) -> Iterator[str]:
    """An emulator with nothing in its own manifest, served by a real HTTP server: whatever runs
    there was deployed through the REST API."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("application:\n  runtimeManifest:\n    packages: {}\n")
    app, controller, _ = emulator_app(load_manifest(empty, {}), state_file=None)
    try:
        with serving(app, controller) as base:
            yield base
    finally:
        controller.shutdown()


def signed_post(integration: Integration, url: str, body: dict) -> requests.Response:
    payload = json.dumps(body)
    _, headers, _ = oauth_client(integration).sign(url, http_method="POST", body=payload,
                                                   headers={"Content-Type": "application/json"})
    return requests.post(url, data=payload, headers=headers, timeout=60)


def test_deploy_then_exchange_through_the_deployed_zips(zips, openwhisk, any_store_url, monkeypatch, capsys):
    monkeypatch.setenv("STORE_URL", any_store_url)
    monkeypatch.setenv("CRYPT_KEY", CRYPT_KEY)
    integration = open_store(any_store_url).add_integration(Integration(name="deployed"))
    dist = str(next(iter(zips.values())).parent)
    args = ["--apihost", openwhisk, "--auth", GUEST_KEY, "--dist", dist]
    assert deploy.main(args) == 0
    assert deploy.main(args) == 0  # idempotent
    printed = capsys.readouterr().out
    urls = {line.split()[2]: line.split()[-1] for line in printed.splitlines() if line.startswith("deployed")}
    sequence_url = urls["customer-auth/exchange-external-customer-token"]
    graphql_url = urls["customer-auth/graphql"]
    assert sequence_url == f"{openwhisk}/api/v1/web/guest/customer-auth/exchange-external-customer-token"

    through_sequence = signed_post(integration, sequence_url, {"customer": SEED_CUSTOMER})
    assert through_sequence.status_code == 200, through_sequence.text
    assert {k: through_sequence.json()["customer"][k] for k in SEED_CUSTOMER} == SEED_CUSTOMER

    through_graphql = signed_post(integration, graphql_url, {"query": SEED_MUTATION})
    answer = through_graphql.json()
    assert answer["data"]["exchangeExternalCustomerToken"]["customer"] == SEED_CUSTOMER, answer

    auth = tuple(GUEST_KEY.split(":"))
    deployed = requests.get(f"{openwhisk}/api/v1/namespaces/_/actions/customer-auth/verify-oauth", auth=auth).json()
    assert deployed["exec"]["binary"] is True
    names = [a["name"] for a in requests.get(f"{openwhisk}/api/v1/namespaces/_/activations?limit=50",
                                             auth=auth).json()]
    # the graphql action's activation, then the sequence it invoked through the REST API, and its components
    for name in ("graphql", "exchange-external-customer-token", "verify-oauth", "upsert-customer", "issue-token"):
        assert name in names
    assert open_store(any_store_url).customer_count() == 1


def test_deploy_then_sign_in_through_the_deployed_sequence(zips, openwhisk, tmp_path, monkeypatch, capsys):
    """The deployed bundle does what the emulator does: sign-in's exchange-customer-token calls Commerce at
    COMMERCE_GRAPHQL_URL, here the deployed graphql web action, with the integration's credentials."""
    url = f"tinydb://{tmp_path}/store.json"
    integration = open_store(url).add_integration(Integration(name="storefront-app"))
    provider = OpenIDProvider(tmp_path, KeySet.generate("RSA"))
    try:
        graphql_url = f"{openwhisk}/api/v1/web/guest/customer-auth/graphql"
        for name, value in {"STORE_URL": url, "CRYPT_KEY": CRYPT_KEY, "ID_PROVIDERS": provider.settings(),
                            "COMMERCE_GRAPHQL_URL": graphql_url,
                            **{name: getattr(integration, key) for key, name in CREDENTIALS.items()}}.items():
            monkeypatch.setenv(name, value)
        assert deploy.main(["--apihost", openwhisk, "--auth", GUEST_KEY, "--dist", str(next(iter(zips.values())).parent)]) == 0
        assert "social-login/sign-in" in capsys.readouterr().out
        id_token, nonce = provider.sign_in("deployed")
        answer = requests.post(f"{openwhisk}/api/v1/web/guest/social-login/sign-in", timeout=60,
                               json={"provider": "local", "id_token": id_token, "nonce": nonce})
    finally:
        provider.stop()
    assert answer.status_code == 200, answer.text
    me = requests.post(graphql_url, json={"query": "{ customer { email } }"}, timeout=60,
                       headers={"Authorization": f"Bearer {answer.json()['token']}"}).json()
    assert me == {"data": {"customer": {"email": "deployed@example.com"}}}


def test_deploy_warns_of_unset_sign_in_settings(capsys):
    manifest = load_manifest(ROOT / "app.config.yaml", {"STORE_URL": "postgresql://db/shop", "CRYPT_KEY": CRYPT_KEY})
    deploy.check_settings(manifest, "https://openwhisk.example.com")
    warning = capsys.readouterr().err
    assert "ID_PROVIDERS, COMMERCE_GRAPHQL_URL, AIO_COMMERCE_AUTH_INTEGRATION_CONSUMER_KEY" in warning
    assert "sign-in will answer every request with an error" in warning


def test_deploy_refuses_missing_settings_and_missing_zips(openwhisk, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STORE_URL", "")  # the environment wins over .env: set, but empty
    monkeypatch.setenv("CRYPT_KEY", "")
    assert deploy.main(["--apihost", openwhisk, "--auth", GUEST_KEY, "--dist", str(tmp_path)]) == 1
    assert capsys.readouterr().err == ("deploy: setting STORE_URL is not set; setting CRYPT_KEY is not set (in the "
                                       "environment or .env); nothing was deployed\n")
    monkeypatch.setenv("STORE_URL", f"tinydb://{tmp_path}/s.json")
    monkeypatch.setenv("CRYPT_KEY", CRYPT_KEY)
    assert deploy.main(["--apihost", openwhisk, "--auth", GUEST_KEY, "--dist", str(tmp_path / "none")]) == 1
    assert "run scripts/package first" in capsys.readouterr().err
    assert deploy.main(["--apihost", openwhisk, "--auth", "x:y", "--dist", str(tmp_path)]) == 1
    assert "refused the key" in capsys.readouterr().err


def test_deploy_runs_the_emulators_setting_checks_first(openwhisk, tmp_path, monkeypatch, capsys):
    """A setting every request would fail on is refused before anything is deployed, as the emulator
    refuses to start with it."""
    monkeypatch.setenv("STORE_URL", f"tinydb://{tmp_path}/s.json")
    monkeypatch.setenv("CRYPT_KEY", CRYPT_KEY)
    monkeypatch.setenv("JWT_ALG", "RS256")
    assert deploy.main(["--apihost", openwhisk, "--auth", GUEST_KEY, "--dist", str(tmp_path)]) == 1
    assert capsys.readouterr().err == ("deploy: setting JWT_ALG must be one of HS256, HS384, HS512, got 'RS256' (in "
                                       "the environment or .env); nothing was deployed\n")
    listed = requests.get(f"{openwhisk}/api/v1/namespaces/_/packages", auth=tuple(GUEST_KEY.split(":")), timeout=10)
    assert listed.json() == []


def test_deploy_names_what_is_missing_and_reads_a_bare_host_as_wsk_does(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit):  # as `--auth "$WSK_AUTH"` gives with the variable unset
        deploy.main(["--apihost", "https://openwhisk.example.com", "--auth", ""])
    assert "error: --auth is required (or --manifest)" in capsys.readouterr().err
    monkeypatch.setenv("STORE_URL", f"tinydb://{tmp_path}/s.json")
    monkeypatch.setenv("CRYPT_KEY", CRYPT_KEY)
    assert deploy.main(["--apihost", "127.0.0.1:1", "--auth", "x:y", "--dist", str(tmp_path)]) == 1
    assert "deploy: cannot reach https://127.0.0.1:1/api/v1: " in capsys.readouterr().err


def test_the_deployment_manifest_keeps_variable_references(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CRYPT_KEY", "must-not-be-written")
    assert deploy.main(["--manifest", "--dist", str(tmp_path / "dist")]) == 0
    text = (tmp_path / "dist" / "manifest.yaml").read_text()
    assert "must-not-be-written" not in text
    package = yaml.safe_load(text)["packages"]["customer-auth"]
    assert package["actions"]["issue-token"]["inputs"]["CRYPT_KEY"] == "$CRYPT_KEY"
    assert package["sequences"]["exchange-external-customer-token"]["actions"] == (
        "verify-oauth, upsert-customer, issue-token")
    printed = capsys.readouterr().out
    assert f"deploy it from {tmp_path} with" in printed and "aio rt deploy -m dist/manifest.yaml" in printed
    assert "wskdeploy -m dist/manifest.yaml" in printed


def test_both_deployment_tools_find_the_same_zips(tmp_path):
    """aio (aio-lib-runtime's createActionObject) reads `function:` from the working folder, wskdeploy
    (its readActionFunction) from the manifest's folder: run from the folder holding dist/, both reach
    dist/<action>.zip, the second through dist/dist/, also after scripts/package rebuilt the zips.
    (tests/interop deploys the manifest with the real aio CLI.)"""
    dist = tmp_path / "dist"
    assert deploy.main(["--manifest", "--dist", str(dist)]) == 0
    assert deploy.main(["--manifest", "--dist", str(dist)]) == 0  # again, over its own links
    actions = yaml.safe_load((dist / "manifest.yaml").read_text())["packages"]["customer-auth"]["actions"]
    assert set(actions) == {"verify-oauth", "upsert-customer", "issue-token", "graphql"}
    for name, action in actions.items():
        (dist / f"{name}.zip").write_bytes(b"rebuilt " + name.encode())
        from_working_folder, from_manifest_folder = tmp_path / action["function"], dist / action["function"]
        assert from_working_folder == dist / f"{name}.zip"
        assert from_manifest_folder.read_bytes() == from_working_folder.read_bytes() == b"rebuilt " + name.encode()
