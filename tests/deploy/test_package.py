"""scripts/package: every zip runs under a plain python3 with nothing but what the zip holds."""
from __future__ import annotations

import base64
import importlib.util
import json
import marshal
import subprocess
import sys
import zipfile
from pathlib import Path


from customer_auth.integrations import Integration
from customer_auth.store import open_store
from social_login.settings import CREDENTIALS
from tests.conftest import CRYPT_KEY, SEED_CUSTOMER, signed_web_params
from tests.social.conftest import running_emulator
from tests.social.forge import KeySet
from tests.social.openid_provider import OpenIDProvider

# What OpenWhisk's Python runtime does with a zip, reduced to its core: activate the virtualenv, put
# the action's folder first, import __main__.py, call main with the params.
RUNNER = """
import json, os, sys
folder = sys.argv[1]
activate = os.path.join(folder, "virtualenv", "bin", "activate_this.py")
exec(open(activate).read(), {"__file__": activate})
sys.path.insert(0, folder)
import runpy
action = runpy.run_path(os.path.join(folder, "__main__.py"))
print(json.dumps(action["main"](json.loads(sys.stdin.read()))))
"""


def plain_python() -> str:
    """The interpreter the venv was made from: no .venv packages on its path."""
    return getattr(sys, "_base_executable", sys.executable)


def run_zip(zip_path: Path, folder: Path, params: dict) -> dict:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    done = subprocess.run([plain_python(), "-I", "-S", "-c", RUNNER, str(folder)], input=json.dumps(params),
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_zip_layout_and_size(zips):
    assert set(zips) == {"verify-oauth", "upsert-customer", "issue-token", "graphql", "verify-id-token",
                         "exchange-customer-token"}
    graphql = zipfile.ZipFile(zips["graphql"]).namelist()
    assert "customer_auth/graphql/schema.graphql" in graphql
    assert any(n.startswith("virtualenv/lib/python3.11/site-packages/graphql/") for n in graphql)
    for path in zips.values():
        names = zipfile.ZipFile(path).namelist()
        assert "__main__.py" in names and "customer_auth/oauth1.py" in names
        assert "virtualenv/bin/activate_this.py" in names
        assert any(n.startswith("virtualenv/lib/python3.11/site-packages/jwt/") for n in names)
        assert not any(n.startswith("tests/") for n in names)
        assert not any("__pycache__" in n and not n.endswith(".cpython-311.pyc") for n in names)
        assert path.stat().st_size < 22 * 1024 * 1024


def test_every_module_comes_compiled_for_any_timestamps(zips):
    """A container unpacks the zip afresh: bytecode valid whatever the unpacked files' times (unchecked
    hash), for every module, recording no path of the machine that packaged it."""
    for path in zips.values():
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            modules = [n for n in names if n.endswith(".py") and "/" in n]  # __main__.py is renamed by the runtime
            assert "customer_auth/__pycache__/oauth1.cpython-311.pyc" in names
            for module in modules:
                folder, _, file = module.rpartition("/")
                pyc = f"{folder}/__pycache__/{file[:-3]}.cpython-311.pyc"
                assert pyc in names, pyc
            header = archive.read("customer_auth/__pycache__/oauth1.cpython-311.pyc")
            assert header[:4] == importlib.util.MAGIC_NUMBER
            assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, not checked against the source
            code = marshal.loads(header[16:])
            assert code.co_filename == "customer_auth/oauth1.py"


def site_packages(zip_path: Path) -> set[str]:
    prefix = "virtualenv/lib/python3.11/site-packages/"
    return {n[len(prefix):].split("/")[0] for n in zipfile.ZipFile(zip_path).namelist() if n.startswith(prefix)}


def test_each_zip_holds_what_its_action_imports(zips):
    """Traced from each __main__.py through the library modules it reaches."""
    assert "graphql" in site_packages(zips["graphql"])
    assert "email_validator" in site_packages(zips["upsert-customer"])
    for name in ("verify-oauth", "upsert-customer", "issue-token"):
        assert "graphql" not in site_packages(zips[name])
    assert "email_validator" not in site_packages(zips["verify-oauth"])
    assert {"authlib", "tinydb", "filelock", "psycopg"} <= site_packages(zips["verify-oauth"])
    for name in ("verify-id-token", "exchange-customer-token"):
        assert {"joserfc", "cryptography", "tinydb", "psycopg"} <= site_packages(zips[name])
        assert "graphql" not in site_packages(zips[name]) and "email_validator" not in site_packages(zips[name])
        assert "social_login/id_token.py" in zipfile.ZipFile(zips[name]).namelist()


def test_plain_python_cannot_see_the_project_venv(tmp_path):
    done = subprocess.run([plain_python(), "-I", "-S", "-c", "import jwt"], capture_output=True, text=True)
    assert done.returncode != 0 and "No module named 'jwt'" in done.stderr


def test_the_seed_example_through_the_three_zips(zips, tmp_path):
    url = f"tinydb://{tmp_path}/store.json"
    integration = open_store(url).add_integration(Integration(name="zip-test"))
    settings = {"STORE_URL": url, "CRYPT_KEY": CRYPT_KEY}
    payload = signed_web_params(integration)
    for name in ("verify-oauth", "upsert-customer", "issue-token"):
        payload = run_zip(zips[name], tmp_path / name, {**settings, **payload})
        assert "error" not in payload, payload
    assert payload["statusCode"] == 200
    assert {k: payload["body"]["customer"][k] for k in SEED_CUSTOMER} == SEED_CUSTOMER


def test_sign_in_through_the_two_zips(zips, tmp_path):
    """A real provider's ID token through verify-id-token's zip, then exchange-customer-token's calling
    Commerce (an emulator's /graphql, served) with the integration's credentials."""
    provider = OpenIDProvider(tmp_path, KeySet.generate("RSA"))
    try:
        with running_emulator(f"tinydb://{tmp_path}/commerce.json") as commerce:
            url = f"tinydb://{tmp_path}/store.json"
            id_token, nonce = provider.sign_in("zipped")
            body = json.dumps({"provider": "local", "id_token": id_token, "nonce": nonce})
            payload = run_zip(zips["verify-id-token"], tmp_path / "verify", {
                "STORE_URL": url, "ID_PROVIDERS": provider.settings(), "__ow_method": "post",
                "__ow_headers": {"content-type": "application/json"},
                "__ow_body": base64.b64encode(body.encode()).decode()})
            assert payload["identity"]["email"] == "zipped@example.com", payload
            credentials = {name: getattr(commerce.development, key) for key, name in CREDENTIALS.items()}
            answer = run_zip(zips["exchange-customer-token"], tmp_path / "exchange", {
                "STORE_URL": url, "COMMERCE_GRAPHQL_URL": commerce.base + "/graphql", **credentials, **payload})
    finally:
        provider.stop()
    assert answer["statusCode"] == 200, answer
    assert answer["body"]["customer"]["email"] == "zipped@example.com" and answer["body"]["link"]["new"] is True


def test_unresolvable_dependency_fails_clearly(tmp_path, capsys):
    import package

    action_dir = tmp_path / "actions" / "odd"
    action_dir.mkdir(parents=True)
    (action_dir / "__main__.py").write_text("import no_such_distribution_here\n\ndef main(p):\n    return p\n")
    (tmp_path / "app.config.yaml").write_text(
        "application:\n  runtimeManifest:\n    packages:\n      p:\n        actions:\n"
        "          odd:\n            function: actions/odd/__main__.py\n            runtime: python:3.11\n")
    assert package.main(["--manifest", str(tmp_path / "app.config.yaml"), "--out", str(tmp_path / "dist")]) == 1
    assert "cannot resolve module 'no_such_distribution_here'" in capsys.readouterr().err
