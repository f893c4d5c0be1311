"""The settings registry: one place defines each setting, .env.example documents the same ones with
the same defaults, and a value that cannot work is named with what it accepts."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from customer_auth import settings
from social_login import settings as social_login_settings  # noqa: F401 - its settings join the registry
from customer_auth.errors import ConfigurationError
from emulator.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[2]
ENV_LINE = re.compile(r"([A-Z][A-Z0-9_]*)=")


def documented() -> dict[str, str]:
    """Each setting .env.example sets (`NAME=`), with the comments above it (a run of settings shares
    the comment above the run)."""
    out: dict[str, str] = {}
    comment: list[str] = []
    shared = ""
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = ENV_LINE.match(line)
        if match:
            shared = "\n".join(comment) if comment else shared
            out[match.group(1)] = shared
            comment = []
        elif line.startswith("#"):
            comment.append(line)
        else:
            comment, shared = [], ""
    return out


def manifest_inputs() -> dict[str, set[str]]:
    """Every input of the manifest's actions and the raw values it is given ($VAR references kept)."""
    class Unresolved(dict):
        def get(self, key: str, default: object = None) -> str:
            return f"${key}"

    inputs: dict[str, set[str]] = {}
    for package in load_manifest(ROOT / "app.config.yaml", Unresolved()).packages.values():
        for action in package.actions.values():
            for name, value in action.inputs.items():
                inputs.setdefault(name, set()).add(str(value))
    return inputs


def test_every_setting_reaches_an_action_through_the_manifest() -> None:
    inputs = manifest_inputs()
    assert [name for name in settings.SETTINGS if name not in inputs] == []


def test_env_example_documents_every_setting_a_user_sets_with_its_default() -> None:
    """Both ways: a setting .env.example documents is one the registry checks, and every setting the
    manifest takes from the environment is documented there, its default shown (the manifest's fixed
    values, such as WEB_SEQUENCE_PATH, are no user's to set)."""
    docs, inputs = documented(), manifest_inputs()
    assert sorted(set(docs) - set(settings.SETTINGS)) == []
    from_environment = [name for name in settings.SETTINGS if any("$" in v for v in inputs.get(name, ()))]
    assert sorted(set(from_environment) - set(docs)) == []
    for name in from_environment:
        default = settings.SETTINGS[name].default
        assert default.lower() in docs[name].lower(), f".env.example does not show {name}'s default {default!r}"


def test_every_default_passes_its_own_check() -> None:
    defaults = {name: s.default for name, s in settings.SETTINGS.items() if not s.required}
    assert settings.check(defaults) == [] and settings.check({}) == []


@pytest.mark.parametrize("params, problem", [
    ({"JWT_ALG": "RS256"}, "setting JWT_ALG must be one of HS256, HS384, HS512, got 'RS256'"),
    ({"CUSTOMER_TOKEN_LIFETIME": "abc"}, "setting CUSTOMER_TOKEN_LIFETIME must be a whole number, got 'abc'"),
    ({"RATE_LIMIT_PER_MINUTE": "lots"}, "setting RATE_LIMIT_PER_MINUTE must be a whole number of 0 or more, got 'lots'"),
    ({"RATE_LIMIT_BURST": "0"}, "setting RATE_LIMIT_BURST must be a whole number of 1 or more, got '0'"),
    ({"OAUTH_ALLOW_HMAC_SHA1": "sometimes"}, "setting OAUTH_ALLOW_HMAC_SHA1 must be true or false, got 'sometimes'"),
    ({"LOG_LEVEL": "loud"}, "setting LOG_LEVEL must be one of debug, info, warning, error, got 'loud'"),
    ({"PUBLIC_BASE_URL": "shop.example.com"},
     "setting PUBLIC_BASE_URL must be an http(s)://host[/prefix] URL without query or fragment, got 'shop.example.com'"),
    ({"STORES": "default"},
     "setting STORES must be store_code:website_code pairs separated by commas, each store code once, got 'default'"),
    ({"STORES": "fr:base,us:us", "DEFAULT_STORE": ""},
     "setting DEFAULT_STORE must be one of the store codes of STORES (fr, us), got 'default'"),
    ({"STORE_URL": "mysql://db"}, "setting STORE_URL has an unsupported scheme 'mysql': a store is "
                                  "tinydb:///absolute/path/store.json or postgresql://user:password@host:port/database"),
])
def test_a_value_that_cannot_work_is_named_with_what_is_accepted(params: dict[str, str], problem: str) -> None:
    assert settings.check(params) == [problem]


def test_check_reads_only_the_settings_an_action_gets() -> None:
    """An action gets the settings it reads: one without JWT_ALG is not judged by it; a required
    setting given empty is refused; a setting of no registry entry (another package's) is left alone."""
    assert settings.check({"STORES": "default:base", "SOMETHING_ELSE": "x"}) == []
    assert settings.check({"STORE_URL": "", "CRYPT_KEY": ""}) == ["setting STORE_URL is not set",
                                                                   "setting CRYPT_KEY is not set"]


def test_a_secret_setting_is_never_repeated() -> None:
    with pytest.raises(ConfigurationError) as refused:
        settings.CRYPT_KEY.read({"CRYPT_KEY": "   "})
    assert refused.value.reason == "setting CRYPT_KEY must be one or more keys separated by whitespace (the last one signs)"


def test_the_actions_read_the_values_the_check_accepts() -> None:
    params = {"JWT_ALG": "hs512", "CUSTOMER_TOKEN_LIFETIME": " 5 ", "CRYPT_KEY": "old new",
              "RATE_LIMIT_PER_MINUTE": "0", "OAUTH_ALLOW_HMAC_SHA1": "YES", "PUBLIC_BASE_URL": "https://shop.example/"}
    policy = settings.token_policy(params)
    assert (policy.algorithm, policy.lifetime_minutes, policy.key.strip("&")) == ("HS512", 5, "new")
    assert settings.rate_limit(params) is None and settings.OAUTH_ALLOW_HMAC_SHA1.read(params) is True
    assert settings.PUBLIC_BASE_URL.read(params) == "https://shop.example"


def test_env_example_names_only_options_the_emulator_has(capsys: pytest.CaptureFixture[str]) -> None:
    """The emulator's section of .env.example lists variables, commented out, that `--help` names."""
    from emulator.__main__ import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"], {})
    shown = capsys.readouterr().out
    listed = re.findall(r"^# ((?:EMULATOR|OW)_[A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M)
    assert listed and [name for name in listed if f"[{name}]" not in shown] == []


@pytest.mark.parametrize("option, problem", [
    ("pgbouncer=maybe", "pgbouncer='maybe' (auto, 1/true/yes/on or 0/false/no/off)"),
    ("statement_timeout=soon", "statement_timeout='soon' is no duration"),
    ("pool_max_size=0", "pool_max_size at least 1"),
])
def test_a_postgresql_store_parameter_is_checked_before_anything_connects(option: str, problem: str) -> None:
    """With the other settings, at the emulator's start and before scripts/deploy deploys, not by the
    first exchange: the check needs no driver and opens nothing."""
    [said] = settings.check({"STORE_URL": f"postgresql://app:S3cretPw@db.example:5432/shop?{option}"})
    assert said.startswith("setting STORE_URL has a bad PostgreSQL store parameter: ") and problem in said
    assert "S3cretPw" not in said
