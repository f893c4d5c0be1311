"""Claim 7, nothing leaks: a pytest plugin that watches the whole suite.

It learns every secret the suite creates in this process (integration credentials as they are stored,
the crypt keys the tests use, every secret in an exchange input sent to an action: a shopper's
password under any name, a custom attribute named like a secret, whatever a field the input types do
not define holds; every ID token sent to sign in) and collects everything that is written where people
look: every activation record the emulator keeps (worker logs and results included), every log line,
every client-facing error message. When the session ends it fails the run if any secret, or any
customer token with its signature, appears in any of them.

ID tokens are checked in the activation records as the actions wrote them too, before the emulator's
redaction (which strips any JWS's signature): a deployed OpenWhisk keeps records unredacted, so the
actions themselves must never write one. Their decoded header and claims, without the signature, may be
kept, as customer tokens' are.
"""
from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# A compact JWS with a signature long enough to be real; redaction keeps header.claims only.
SIGNED_TOKEN = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{20,}")
PLACEHOLDER = "[REDACTED]"  # what stands where a secret was taken out: no secret itself


@dataclass
class SecretAudit:
    secrets: set[str] = field(default_factory=set)
    sinks: list[tuple[str, str]] = field(default_factory=list)  # (where, text)
    id_tokens: set[str] = field(default_factory=set)
    unredacted: list[tuple[str, str]] = field(default_factory=list)  # (where, text): checked for ID tokens only

    def secret(self, value: str) -> None:
        if len(value) >= 8 and value != PLACEHOLDER:
            self.secrets.add(value)

    def id_token(self, value: str) -> None:
        """A bearer ID token: never written whole, nor its signature (the part that makes it usable)."""
        if value.count(".") == 2 and len(value.rsplit(".", 1)[1]) >= 20:
            self.id_tokens.add(value)
            self.secret(value)

    def sink(self, where: str, text: str) -> None:
        self.sinks.append((where, text))

    def unredacted_sink(self, where: str, text: str) -> None:
        self.unredacted.append((where, text))

    def leaks(self) -> list[str]:
        found = []
        for where, text in self.sinks:
            for value in self.secrets:
                if value in text:
                    found.append(f"{where}: a secret ({value[:4]}…) in {text[:160]!r}")
            if SIGNED_TOKEN.search(text):
                found.append(f"{where}: a signed customer token in {text[:160]!r}")
        signatures = {token.rsplit(".", 1)[1] for token in self.id_tokens}
        for where, text in self.unredacted:
            if any(signature in text for signature in signatures):
                found.append(f"{where}: an ID token's signature, as the action wrote it, in {text[:160]!r}")
        return found


class _Collector(logging.Handler):
    def __init__(self, audit: SecretAudit) -> None:
        super().__init__(logging.DEBUG)
        self.audit = audit

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.audit.sink(f"log {record.name}", self.format(record))
        except Exception:  # a record that cannot format is not ours to judge
            pass


AUDIT = SecretAudit()
OUR_LOGGERS = ("customer_auth", "emulator", "werkzeug", "flask.app", "psycopg", "psycopg.pool")


def pytest_configure(config: pytest.Config) -> None:
    from customer_auth import errors, exchange_input
    from social_login import sign_in_request
    from customer_auth.store.postgres_store import PostgresStore
    from customer_auth.store.tinydb_store import TinyDBStore
    from emulator import activations
    from emulator.controller import Controller
    from tests.conftest import CRYPT_KEY

    AUDIT.secret(CRYPT_KEY)
    for store_class in (TinyDBStore, PostgresStore):  # every integration the suite stores, rotations too
        for name in ("add_integration", "save_integration"):
            setattr(store_class, name, _learning(getattr(store_class, name)))
    # Every secret of every exchange input the suite sends: to an action called directly (sealed in
    # this process), and to the emulator's actions (read from the params the controller hands a worker).
    seal = exchange_input.seal

    def learned_seal(body: Any, *args: Any, **kwargs: Any) -> Any:
        for value in secrets_in_input(body):
            AUDIT.secret(value)
        return seal(body, *args, **kwargs)

    exchange_input.seal = learned_seal
    run_action = Controller._run_action

    def learned_run(self, action, params, *args, **kwargs):
        for value in secrets_in_params(params):
            AUDIT.secret(value)
        for id_token in _id_tokens_in(params):
            AUDIT.id_token(id_token)
        return run_action(self, action, params, *args, **kwargs)

    Controller._run_action = learned_run

    add = activations.ActivationStore.add

    def recorded_add(self, activation, redact=None) -> None:
        AUDIT.unredacted_sink(f"activation {activation.name}", json.dumps(activation.to_dict(), default=str))
        add(self, activation, redact)
        served = self.get(activation.activation_id)  # what the activations API would return: the real read
        if served is not None:  # None: already pushed out by newer records, never readable
            AUDIT.sink(f"activation {activation.name}", json.dumps(served.to_dict(), default=str))

    activations.ActivationStore.add = recorded_add

    init = errors.CommerceError.__init__

    def recorded_error(self, messages, category, reason: str = "") -> None:
        init(self, messages, category, reason)
        AUDIT.sink("error message", " | ".join(self.messages))

    errors.CommerceError.__init__ = recorded_error
    # Every ID token a sign-in carries, to an action called directly too
    parse = sign_in_request.parse

    def learned_parse(params):
        request = parse(params)
        AUDIT.id_token(request.id_token)
        return request

    sign_in_request.parse = learned_parse
    collector = _Collector(AUDIT)
    collector.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    for name in OUR_LOGGERS:  # at the levels they run with; test-side libraries (oauthlib...) are not ours
        logging.getLogger(name).addHandler(collector)


def secrets_in_params(params: dict) -> list[str]:
    """The secrets in an action's params: in the exchange input of a web action's raw body, and
    whatever a field named like a secret holds anywhere in them (an action invoked directly)."""
    # What travels instead of a secret is none: a password's seal (its errors and hash), an ID token
    # decoded (its header and claims, without the signature).
    travels = {k: v for k, v in params.items() if k != "password_seal" and not (k == "id_token" and isinstance(v, dict))}
    found = list(_under_secret_names(travels, False))
    for body in _raw_bodies(params):
        # A sign-in (its nonce and provider are no secrets), or a GraphQL request (the graphql action's:
        # the exchange input it carries is learned where verify-oauth gets it): what secret names hold.
        # Anything else is the web sequence's exchange input.
        named = isinstance(body, dict) and ("id_token" in body or "query" in body)
        found += _under_secret_names(body, False) if named else secrets_in_input(body)
    return found


def _id_tokens_in(params: dict) -> list[str]:
    """The ID token a sign-in carries, in the raw body the sequence's first action reads."""
    return [body["id_token"] for body in _raw_bodies(params)
            if isinstance(body, dict) and isinstance(body.get("id_token"), str)]


def _raw_bodies(params: dict) -> list:
    raw = params.get("__ow_body")
    if isinstance(raw, str) and raw:
        for decode in (lambda text: base64.b64decode(text, validate=True), str.encode):
            try:
                return [json.loads(decode(raw))]
            except ValueError:
                continue
    return []


def secrets_in_input(body: Any) -> list[str]:
    """Every secret an exchange input (`{"customer": {...}}`) holds, whatever its name: what a field
    named like a secret holds (`password`, `pwd`, `pass\u200bword`, at any depth), the value of a
    custom attribute whose code names one, and whatever a field the input types do not define holds.
    verify-oauth must pass on none of them, whatever shape the client sent them in."""
    return [*_under_secret_names(body, False), *_outside_the_schema("ExchangeExternalCustomerTokenInput", body)]


def _under_secret_names(value: Any, held: bool) -> Iterator[str]:
    from customer_auth.secret_names import names_secret

    if isinstance(value, str) and held:
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _under_secret_names(item, held or names_secret(key))
    elif isinstance(value, list):
        for item in value:
            yield from _under_secret_names(item, held)


def _outside_the_schema(type_name: str, value: Any) -> Iterator[str]:
    """The strings `value` holds where input type `type_name` defines no field, and in the values of
    custom attributes named like secrets."""
    from customer_auth.exchange_input import INPUT_TYPES
    from customer_auth.secret_names import names_secret

    if type_name.startswith("["):
        for item in value if isinstance(value, list) else [value]:
            yield from _outside_the_schema(type_name[1:-1], item)
        return
    fields = INPUT_TYPES.get(type_name)
    if fields is None or not isinstance(value, dict):
        return
    secret = type_name == "AttributeValueInput" and names_secret(value.get("attribute_code", ""))
    for name, item in value.items():
        if name not in fields or (secret and name != "attribute_code"):
            yield from _under_secret_names(item, True)
        else:
            yield from _outside_the_schema(fields[name].rstrip("!"), item)


def _learning(method):
    def learn(self, integration):
        for value in (integration.consumer_secret, integration.access_token, integration.access_token_secret,
                      *((integration.previous or {}).get(k, "") for k in ("consumer_secret", "access_token",
                                                                             "access_token_secret"))):
            AUDIT.secret(value)
        return method(self, integration)

    return learn


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = AUDIT.leaks()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if leaks:
        if reporter:
            reporter.write_line(f"secret audit: {len(leaks)} leak(s)", red=True)
            for leak in leaks[:20]:
                reporter.write_line("  " + leak)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line(f"secret audit: {len(AUDIT.secrets)} secrets, {len(AUDIT.sinks)} log lines, "
                            "activation records and error messages checked: no leak")
