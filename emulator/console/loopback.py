"""Is this request local? The console signs exchanges with an integration's secrets server-side, so it
does that only for a browser on this machine talking to an emulator that listens on loopback only.

Three facts decide, all read from the WSGI environ:
- the bind address: werkzeug's dev server puts it in SERVER_NAME (`--host 0.0.0.0` makes the
  emulator reachable from the network, so the console refuses to sign there);
- the peer: REMOTE_ADDR, and any X-Forwarded-For a local proxy added, must be loopback;
- the Host header must name a loopback host, so a web page on another origin cannot reach the
  console through DNS rebinding.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """A host name or address (an IP literal may be bracketed) that stays on this machine."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def host_name(host_header: str) -> str:
    """`127.0.0.1:9080` -> `127.0.0.1`; `[::1]:9080` -> `::1`."""
    host_header = host_header.strip()
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if host_header.count(":") == 1 else host_header


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
    host = host_name(str(environ.get("HTTP_HOST", "")))
    if not is_loopback(host):
        return f"the request names the host {host or '(none)'}, not a loopback host"
    return None
