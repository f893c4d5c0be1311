"""The scripts, run as users run them, given the usual mistakes: one `error:` line and a failing exit
code, never a traceback, never a secret, nothing written where nothing should be."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def script(name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "STORE_URL"} | env
    return subprocess.run([str(ROOT / "scripts" / name), *args], capture_output=True, text=True, env=environ,
                          timeout=120, cwd=ROOT)


def refused(done: subprocess.CompletedProcess[str], message: str, code: int = 1) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("url, message", [
    ("postgress://x", "setting STORE_URL has an unsupported scheme 'postgress'"),
    ("tinydb:///tmp/x.json?sync=full", "unknown parameter 'sync'"),
])
def test_a_bad_store_url_is_named(url: str, message: str) -> None:
    for name, args in (("store", ("migrate",)), ("integration", ("list",)), ("audit", ())):
        refused(script(name, *args, STORE_URL=url), message)


@pytest.mark.parametrize("url", [
    "postgresql:app:S3cretDbPw@127.0.0.1/test",   # no //: the password lands in the path
    "postgresql://app:S3cret#DbPw@127.0.0.1/test",  # an unencoded #: the rest is a fragment, 'S3cret' a port
    "postgresql://app:S3c@retDbPw@127.0.0.1:1/test",  # an unencoded @: libpq takes 'retDbPw@...' for a host
    "postgresql://app:S3cret?DbPw@127.0.0.1/test",  # an unencoded ?: 'S3cret' a port
    "postgresql://app:S3c50%offDbPw@127.0.0.1/test",  # a bad %-escape: libpq prints the password it cannot read
    "postgresql://app:S3cDbPw@[::1:5432/test",  # an unclosed IPv6 address: not even a URL
])
def test_a_malformed_postgres_url_never_shows_its_password(url: str) -> None:
    done = script("store", "migrate", STORE_URL=url)
    refused(done, "setting STORE_URL is not a URL" if "[" in url else "the PostgreSQL store URL is malformed")
    assert "S3c" not in done.stdout + done.stderr and "DbPw" not in done.stdout + done.stderr


@pytest.mark.parametrize("option, message", [
    ("statement_timeout=abc", "statement_timeout='abc' is no duration"),
    ("auto_migrate=maybe", "auto_migrate='maybe'"),
    ("pool_max_size=0", "pool_max_size at least 1"),
    ("pgbouncer=maybe", "pgbouncer='maybe'"),
    ("pool_timeout=-1", "pool_timeout must be above 0"),
])
def test_a_bad_postgres_option_is_named_at_once(option: str, message: str) -> None:
    """Refused before connecting: a statement_timeout PostgreSQL rejects made every connection fail
    for the whole pool_timeout, with the reason only in the pool's warnings."""
    done = script("store", "migrate", STORE_URL=f"postgresql://postgres@127.0.0.1:9/test?{option}")
    refused(done, message)


def test_a_store_file_that_is_no_store(tmp_path: Path) -> None:
    (tmp_path / "store.json").write_text("[]")
    url = f"tinydb://{tmp_path}/store.json"
    refused(script("integration", "--store-url", url, "list"), "it holds a JSON list, not an object")
    (tmp_path / "store.json").write_text("{not json")
    refused(script("integration", "--store-url", url, "list"), "is not valid JSON")


def test_copy_from_a_store_that_is_not_there(tmp_path: Path) -> None:
    done = script("store", "copy", "--from", f"tinydb://{tmp_path}/stroe.json", "--to", f"tinydb://{tmp_path}/to.json")
    refused(done, f"no TinyDB store at {tmp_path}/stroe.json")
    assert list(tmp_path.iterdir()) == []  # nothing created beside the mistyped path, nor the target


def test_integration_arguments(tmp_path: Path) -> None:
    url = f"tinydb://{tmp_path}/store.json"
    for name in ("2", "  "):
        refused(script("integration", "--store-url", url, "create", "--name", name), "blank or only digits", 2)
    assert script("integration", "--store-url", url, "create", "--name", "shop").returncode == 0
    assert script("integration", "--store-url", url, "create", "--name", "revoked-one").returncode == 0
    assert script("integration", "--store-url", url, "revoke", "revoked-one").returncode == 0
    assert script("integration", "--store-url", url, "create", "--name", "off").returncode == 0
    for command in ("revoke", "deactivate"):
        assert script("integration", "--store-url", url, command, "off").returncode == 0
    rows = script("integration", "--store-url", url, "list").stdout.splitlines()
    assert "active, revoked" in rows[1] and "inactive, revoked" in rows[2]
    assert len({row.index(" key ") for row in rows}) == 1  # columns line up
    assert script("store", "migrate", "--store-url", url).returncode == 0  # the option the other scripts take
    refused(script("integration", "--store-url", url, "rotate", "shop", "--grace-minutes", "-5"), "must be a whole number of 0 or more", 2)
    # Not usage errors: exit 1 with one line, as every script says a thing is not there
    refused(script("integration", "--store-url", url, "rotate", "shpo"), "error: no integration with id or name 'shpo'")
    refused(script("integration", "--store-url", url, "create", "--name", "shop"),
            "error: an integration named 'shop' already exists")
    refused(script("audit", "--store-url", url, "--limit", "0"), "must be a whole number of 1 or more", 2)
    refused(script("audit", "--store-url", url, "--outcome", "bogus"), "invalid choice: 'bogus'", 2)


def test_exchange_failures(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    base = ("--email", "a@example.com", "--firstname", "A", "--lastname", "B", "--credentials", str(credentials))
    credentials.write_text(json.dumps({"name": "x"}))
    refused(script("exchange", *base), "lacks consumer_key, consumer_secret, access_token, access_token_secret")
    credentials.write_text("{oops")
    refused(script("exchange", *base), "is not JSON")
    refused(script("exchange", *base[:-2], "--credentials", str(tmp_path / "missing.json")), "No such file or directory")
    credentials.write_text(json.dumps({k: "x" * 32 for k in ("consumer_key", "consumer_secret", "access_token",
                                                              "access_token_secret")}))
    port = free_port()
    refused(script("exchange", *base, "--url", f"http://127.0.0.1:{port}/graphql"),
            f"nothing answers at http://127.0.0.1:{port}/graphql")
    # Without --url: the emulator's address as its own settings give it
    refused(script("exchange", *base, EMULATOR_PORT=str(port), EMULATOR_HOST="0.0.0.0"),
            f"nothing answers at http://127.0.0.1:{port}/graphql")
    refused(script("exchange", *base, EMULATOR_PORT=str(port), EMULATOR_HOST="::1"),
            f"nothing answers at http://[::1]:{port}/graphql")
    refused(script("exchange", *base[:-2], "--integration", "nobody", STORE_URL=f"tinydb://{tmp_path}/s.json"),
            "no integration 'nobody' in the store")


def test_a_bug_still_shows_its_traceback() -> None:
    """Only failures the scripts explain become one `error:` line; a bug must not hide behind one."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts" / "lib"))
    try:
        import cli
    finally:
        sys.path.pop(0)

    def buggy() -> int:
        first, second = [1, 2, 3]
        return first + second

    with pytest.raises(ValueError, match="too many values to unpack"):
        cli.run(buggy)
    with pytest.raises(ConnectionRefusedError):
        cli.run(lambda: (_ for _ in ()).throw(ConnectionRefusedError(111, "refused")))
    assert cli.run(lambda: (_ for _ in ()).throw(cli.Failure("explained"))) == 1


def test_package_names_every_unknown_action(tmp_path: Path) -> None:
    done = script("package", "issue-token", "typo-action", "--out", str(tmp_path / "dist"))
    assert done.returncode == 1 and "no action named typo-action" in done.stderr
    assert not (tmp_path / "dist").exists()


def test_local_provider_without_node_says_what_it_needs(tmp_path: Path) -> None:
    """scripts/local-provider installs its npm packages first (scripts/lib/npm.py): without Node.js it
    stops there, saying so, instead of starting a provider that cannot load."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "env", "dirname"):
        (tools / tool).symlink_to(shutil.which(tool))
    refused(script("local-provider", PATH=str(tools)), "error: node is not on PATH (Node.js 20 or newer, with npm)")
