"""What happens once the emulator is up; the facade adds its first-start work here.

Kept as one plain function (no hook registry) so the start-up sequence reads top to bottom.
"""
from __future__ import annotations

from emulator.controller import Controller
from emulator.manifest import Sequence


def on_startup(controller: Controller, base_url: str) -> list[str]:
    """Return the lines to print: the web URLs and the activations API."""
    lines = []
    for pkg in controller.manifest.packages.values():
        for entity in [*pkg.actions.values(), *pkg.sequences.values()]:
            if entity.web:
                kind = "web sequence" if isinstance(entity, Sequence) else "web action"
                lines.append(f"{kind:<13} {base_url}/api/v1/web/{controller.namespace}/{entity.fqn}")
    lines.append(f"{'activations':<13} {base_url}/api/v1/namespaces/{controller.namespace}/activations")
    return lines
