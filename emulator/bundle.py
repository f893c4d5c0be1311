"""What the emulator knows of the bundle: customer-auth's GraphQL front door, its secrets and the
development integration a first start creates, and social-login's Commerce (the emulator itself). The
OpenWhisk core stays generic; this is the glue.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from customer_auth import settings as settings_of
from customer_auth.errors import AUTHORIZATION
from customer_auth.graphql import GraphQLFacade
from customer_auth.integrations import Integration
from customer_auth.openwhisk import TooManyRequests
from customer_auth.store import Store, StoreError, open_store
from emulator.app import create_app
from emulator.console import graphql_editor, register as register_console
from emulator.controller import Controller
from emulator.graphql_routes import note_activation, register as register_graphql
from emulator.hosts import AllowedHosts
from emulator.manifest import Action, Manifest
from emulator.project import DEFAULT_HOST
from emulator.rest_api import GUEST_KEY
from emulator.throttling import Throttled
from social_login.settings import (  # and its settings join the registry
    COMMERCE_GRAPHQL_URL, CREDENTIALS as SOCIAL_LOGIN_CREDENTIALS,
)

log = logging.getLogger("emulator")
PACKAGE = "customer-auth"
SOCIAL_LOGIN = "social-login"
DEVELOPMENT_INTEGRATION = "development"
COMMERCE_SETTINGS = (COMMERCE_GRAPHQL_URL.name, *SOCIAL_LOGIN_CREDENTIALS.values())


def bundle_settings(manifest: Manifest) -> dict[str, Any] | None:
    """The settings the actions get (package and action inputs), which the GraphQL facade shares;
    None when the manifest has no customer-auth package (the emulator then runs it as plain OpenWhisk)."""
    return manifest.settings(PACKAGE)


def setting_problems(manifest: Manifest) -> list[str]:
    """Why a setting some action of the manifest receives cannot work, each said once (empty when all
    can): the emulator and scripts/deploy refuse to start with any, rather than fail every request."""
    problems: list[str] = []
    for package in manifest.packages.values():
        for action in package.actions.values():
            problems += [p for p in settings_of.check(action.inputs) if p not in problems]
    return problems


def graphql_facade(controller: Controller, settings: dict[str, Any]) -> GraphQLFacade:
    """The facade invoking the bundle's sequence through the controller: every step an activation (the
    `/graphql` answer names it in `x-openwhisk-activation-id`). A throttled one is the library's
    TooManyRequests, as a deployed graphql action meets OpenWhisk's 429."""

    def invoke(fqn: str, params: dict[str, Any]) -> Any:
        try:
            activation = controller.invoke(fqn, params)
        except Throttled as throttled:
            if throttled.activation_id:
                note_activation(throttled.activation_id)
            raise TooManyRequests(f"{fqn}: {throttled.reason}") from None
        note_activation(activation.activation_id)
        return activation.response.result

    return GraphQLFacade(settings, invoke)


SECRETS_REFRESH_SECONDS = 2.0


def integration_secrets(store: Store, refresh_seconds: float = SECRETS_REFRESH_SECONDS,
                        clock: Callable[[], float] = time.monotonic) -> Callable[[], Iterable[str]]:
    """Every integration's secrets (a rotated-out set too, during its grace period), for the activation
    records' redaction. Asked for with every record, so the list is kept and re-read from the store
    every `refresh_seconds`, not on every call: one store query per record would cost more than the
    record. An integration changed by another process (scripts/integration) is seen within that time.
    A store that cannot answer (a database down) keeps the list last read: the activation that met
    the outage must still be recorded, with its reason in its log."""
    cached: list[tuple[float, tuple[str, ...]]] = []
    lock = threading.Lock()

    def secrets() -> Iterable[str]:
        now = clock()
        if cached and now - cached[0][0] < refresh_seconds:
            return cached[0][1]
        with lock:
            if cached and clock() - cached[0][0] < refresh_seconds:
                return cached[0][1]
            values: list[str] = []
            try:
                integrations = store.integrations()
            except StoreError as error:
                log.warning("integration secrets not refreshed for redaction (%s): %s", type(error).__name__, error)
                cached[:] = [(clock(), cached[0][1] if cached else ())]
                return cached[0][1]
            for integration in integrations:
                values += (integration.consumer_secret, integration.access_token, integration.access_token_secret)
                values += (str((integration.previous or {}).get(key) or "")
                           for key in ("consumer_secret", "access_token", "access_token_secret"))
            cached[:] = [(clock(), tuple(v for v in values if v))]
            return cached[0][1]

    return secrets


def commerce_defaults(store: Store | None, settings: Callable[[], dict[str, Any] | None],
                      api_host: Callable[[], str]) -> Callable[[Action], dict[str, str]]:
    """social-login's Commerce in the emulator, for the settings left unset: the emulator's own `/graphql`
    (at PUBLIC_BASE_URL when that is set, as verify-oauth rebuilds signed URLs from it) and the
    development integration (else the first usable one), so `sign-in` runs with nothing configured and
    the exchange's own activations run too."""

    def defaults(action: Action) -> dict[str, str]:
        if store is None or action.package != SOCIAL_LOGIN or not any(
                action.inputs.get(name) == "" for name in COMMERCE_SETTINGS):
            return {}
        values: dict[str, str] = {}
        base = str((settings() or {}).get("PUBLIC_BASE_URL") or "").rstrip("/") or _reachable(api_host())
        if base:
            values[COMMERCE_GRAPHQL_URL.name] = f"{base}/graphql"
        integrations = store.integrations()
        chosen = next((i for i in integrations if i.name == DEVELOPMENT_INTEGRATION and i.is_usable), None) or next(
            (i for i in integrations if i.is_usable), None)
        if chosen is not None:
            values.update({name: getattr(chosen, key) for key, name in SOCIAL_LOGIN_CREDENTIALS.items()})
        return values

    return defaults


def _reachable(api_host: str) -> str:
    """The emulator's base URL as a client on this machine reaches it (bound everywhere: on loopback)."""
    return api_host.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")


def first_start(store: Store) -> Integration | None:
    """A development integration when the store has none, so a new user can exchange at once."""
    if store.integrations():
        return None
    return store.add_integration(Integration(name=DEVELOPMENT_INTEGRATION))


def emulator_app(manifest: Manifest, auth: str = GUEST_KEY, bind: str = DEFAULT_HOST,
                 allowed_hosts: Iterable[str] = (), **controller_options: Any) -> tuple[Flask, Controller, Store | None]:
    """The emulator as `./scripts/emulate` serves it: the OpenWhisk core, its HTTP routes (the REST API
    behind `auth`; every route but the web actions answering only to the hosts an emulator listening
    on `bind` answers to, `allowed_hosts` and PUBLIC_BASE_URL's), and, when the manifest holds the
    bundle, the GraphQL endpoint over the bundle's store."""
    settings = bundle_settings(manifest)
    store = open_store(settings["STORE_URL"]) if settings else None
    controller: Controller
    commerce = commerce_defaults(store, lambda: bundle_settings(controller.manifest), lambda: controller.api_host)
    controller = Controller(manifest, secrets=integration_secrets(store) if store else None, api_key=auth,
                            not_headers=(AUTHORIZATION,),  # the refusals' category: their reasons stay readable
                            input_defaults=commerce, **controller_options)

    def public_base_url() -> str:
        return str((bundle_settings(controller.manifest) or {}).get("PUBLIC_BASE_URL") or "")

    app = create_app(controller, auth=auth, hosts=AllowedHosts(bind, allowed_hosts, public_base_url))
    if settings:
        facade = graphql_facade(controller, settings)
        register_graphql(app, lambda: facade, editor=graphql_editor)
    register_console(app, store, lambda: bundle_settings(controller.manifest))
    return app, controller, store
