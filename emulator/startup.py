"""What happens once the emulator is up: the lines a new user needs to get a token within a minute.

Kept as one plain function (no hook registry) so the start-up sequence reads top to bottom.
"""
from __future__ import annotations

from customer_auth.integrations import CREDENTIAL_KEYS, Integration
from customer_auth.store import Store
from emulator.bundle import first_start
from emulator.controller import Controller
from emulator.manifest import Sequence


def on_startup(controller: Controller, base_url: str, store: Store | None) -> list[str]:
    """The developer console's URL first, then the web URLs, the GraphQL and activations URLs, and on
    a first start the development integration's credentials with a ready-to-run exchange (`store` is
    None without the bundle)."""
    lines = [f"{'console':<13} {base_url}/   (open it in a browser: get a token, watch every step run)"]
    if store:
        lines.append(f"{'graphql':<13} {base_url}/graphql")
    for pkg in controller.manifest.packages.values():
        for entity in [*pkg.actions.values(), *pkg.sequences.values()]:
            if entity.web:
                kind = "web sequence" if isinstance(entity, Sequence) else "web action"
                lines.append(f"{kind:<13} {base_url}/api/v1/web/{controller.namespace}/{entity.fqn}")
    lines.append(f"{'activations':<13} {base_url}/api/v1/namespaces/{controller.namespace}/activations")
    created = first_start(store) if store else None
    if created:
        lines += _first_start_lines(created, base_url)
    return lines


def _first_start_lines(integration: Integration, base_url: str) -> list[str]:
    credentials = integration.credentials()
    return [
        "",
        "The store had no integration: created the development integration (shown once):",
        *(f"  {key:<20} {credentials[key]}" for key in CREDENTIAL_KEYS),
        "",
        f"Exchange a social login for a customer token: press Run exchange in {base_url}/, or",
        "sign it yourself (OAuth 1.0a HMAC-SHA256):",
        f"  ./scripts/exchange --email roni_cost@example.com --firstname Roni --lastname Cost --url {base_url}/graphql",
    ]
