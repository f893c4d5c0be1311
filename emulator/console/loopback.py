"""Is this request local? The console signs exchanges with an integration's secrets server-side, so it
does that only for a browser on this machine talking to an emulator that listens on loopback only.

Two facts decide, both read from the WSGI environ:
- the bind address: werkzeug's dev server puts it in SERVER_NAME (`--host 0.0.0.0` makes the
  emulator reachable from the network, so the console refuses to sign there);
- the peer: REMOTE_ADDR, and any X-Forwarded-For a local proxy added, must be loopback.
The Host header (DNS rebinding) is checked before any console route runs, for every route but the
public web actions (emulator/browser_guard.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from customer_auth.loopback import is_loopback


def refusal(environ: Mapping[str, Any]) -> str | None:
    """Why this request is not local, or None when it is."""
    bind = str(environ.get("SERVER_NAME", ""))
    if not is_loopback(bind):
        return (f"the emulator listens on {bind or 'an unknown address'}, not on loopback only "
                "(restart it with --host 127.0.0.1)")
    remote = str(environ.get("REMOTE_ADDR", ""))
    if not is_loopback(remote):
        return f"the request comes from {remote or 'an unknown address'}, not from this machine"
    forwarded = [h.strip() for h in str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
    if any(not is_loopback(h) for h in forwarded):
        return "the request was forwarded from another machine (X-Forwarded-For)"
    return None
