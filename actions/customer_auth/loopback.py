"""Which hosts stay on this machine: the one rule for "is this host loopback", shared by the emulator
(which host names it answers to, whether a request is local) and social login (http is taken only
from a provider on this machine).
"""
from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """A host name or address (an IP literal may be bracketed) that stays on this machine: the names
    above and `*.localhost` (RFC 6761), 127.0.0.0/8, ::1, and ::ffff:127.x.y.z."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    ip = address(host)
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip is not None and (ip.is_loopback or bool(mapped and mapped.is_loopback))


def address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`host` as an IP address (it may be bracketed), or None when it is a name."""
    try:
        return ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return None
