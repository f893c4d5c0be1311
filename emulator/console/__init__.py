"""The developer console: a web page at `/` over the emulator (manifest, integrations, customers,
a signed exchange with its activation timeline, the activations list) and a GraphQL editor that
`GET /graphql` serves to a browser. Vanilla HTML, CSS and JS modules from ./static, no build step.

    register(app, store, settings)   # bundle.emulator_app does this

The page reads JSON routes under `/console/api/` (routes.py), which read the controller and the
store directly and hand out nothing secret.
"""
from __future__ import annotations

from emulator.console.routes import graphql_editor, register

__all__ = ["graphql_editor", "register"]
