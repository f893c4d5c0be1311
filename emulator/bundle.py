"""What the emulator knows of the customer-auth bundle: its GraphQL front door, its secrets and the
development integration a first start creates. The OpenWhisk core stays generic; this is the glue.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from customer_auth.errors import AUTHORIZATION
from customer_auth.graphql import GraphQLFacade
from customer_auth.integrations import Integration
from customer_auth.openwhisk import TooManyRequests
from customer_auth.store import Store, StoreError, open_store
from emulator.app import create_app
from emulator.console import graphql_editor, register as register_console
from emulator.controller import Controller
from emulator.graphql_routes import note_activation, register as register_graphql
from emulator.manifest import Manifest
from emulator.rest_api import GUEST_KEY
from emulator.throttling import Throttled

log = logging.getLogger("emulator")
PACKAGE = "customer-auth"
DEVELOPMENT_INTEGRATION = "development"


def bundle_settings(manifest: Manifest) -> dict[str, Any] | None:
    """The settings the actions get (package and action inputs), which the GraphQL facade shares;
    None when the manifest has no customer-auth package (the emulator then runs it as plain OpenWhisk)."""
    package = manifest.packages.get(PACKAGE)
    if package is None:
        return None
    settings = dict(package.inputs)
    for action in package.actions.values():
        settings.update(action.inputs)
    return settings


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


def first_start(store: Store) -> Integration | None:
    """A development integration when the store has none, so a new user can exchange at once."""
    if store.integrations():
        return None
    return store.add_integration(Integration(name=DEVELOPMENT_INTEGRATION))


def emulator_app(manifest: Manifest, auth: str = GUEST_KEY,
                 **controller_options: Any) -> tuple[Flask, Controller, Store | None]:
    """The emulator as `./scripts/emulate` serves it: the OpenWhisk core, its HTTP routes (the REST API
    behind `auth`), and, when the manifest holds the bundle, the GraphQL endpoint over the bundle's store."""
    settings = bundle_settings(manifest)
    store = open_store(settings["STORE_URL"]) if settings else None
    controller = Controller(manifest, secrets=integration_secrets(store) if store else None, api_key=auth,
                            not_headers=(AUTHORIZATION,),  # the refusals' category: their reasons stay readable
                            **controller_options)
    app = create_app(controller, auth=auth)
    if settings:
        facade = graphql_facade(controller, settings)
        register_graphql(app, lambda: facade, editor=graphql_editor)
    register_console(app, store, lambda: bundle_settings(controller.manifest))
    return app, controller, store
