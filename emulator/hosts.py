"""Which host names the emulator answers to: the defence against DNS rebinding, as Vite's
`server.allowedHosts` and Jupyter's `local_hostnames`.

A web page on any site can have the browser connect to 127.0.0.1: its domain's DNS answer changes to
that address after the page loaded (DNS rebinding), and the browser then takes the emulator's answers
for the site's own, readable by the page. Its requests still name the page's domain in `Host`, so
every route but the public web actions answers only to:

- loopback names (`localhost` and `*.localhost`, `127.0.0.0/8`, `[::1]`), with any port;
- any IP address too when the emulator listens beyond loopback (`--host 0.0.0.0`): the user chose to
  expose it, clients on the network reach it by address, and a rebinding page always names a domain;
- the hosts of `--allowed-hosts` / EMULATOR_ALLOWED_HOSTS (`.example.com` allows the domain and its
  subdomains), and PUBLIC_BASE_URL's host.

A request without a Host header (HTTP/1.0) is answered: browsers always send one.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from customer_auth.loopback import address, is_loopback


def host_name(host_header: str) -> str:
    """`127.0.0.1:9080` -> `127.0.0.1`; `[::1]:9080` -> `::1`; lower case."""
    host_header = host_header.strip().lower()
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if host_header.count(":") == 1 else host_header


def parse_allowed(text: str) -> list[str]:
    """The comma- or space-separated host names of --allowed-hosts, lower case, ports dropped;
    ValueError for a URL or a path (a host name is wanted)."""
    names = []
    for item in text.replace(",", " ").split():
        if "/" in item:
            raise ValueError(f"--allowed-hosts takes host names (myshop.test, .example.com), not {item!r}")
        names.append(item.lower() if item.startswith(".") else host_name(item))
    return names


class AllowedHosts:
    """The rule for one emulator: `bind` is the address it listens on, `allowed` the user's names,
    `public_base_url()` PUBLIC_BASE_URL as it is now (the settings may be reloaded)."""

    def __init__(self, bind: str, allowed: Iterable[str] = (),
                 public_base_url: Callable[[], str] = lambda: "") -> None:
        self.on_loopback = is_loopback(bind)
        self.allowed = tuple(allowed)
        self.public_base_url = public_base_url

    def refusal(self, host_header: str | None) -> str | None:
        """Why a request naming `host_header` is not answered, or None when it is."""
        if host_header is None:
            return None
        name = host_name(host_header)
        if self.admits(name):
            return None
        answered = ("loopback names (localhost, 127.0.0.1, [::1])" if self.on_loopback
                    else "loopback names and IP addresses")
        return (f"The host {name or '(empty)'} is not allowed: the emulator answers {answered} only, so that "
                "no web page can reach it through DNS rebinding. To allow this host, start the emulator "
                f"with --allowed-hosts {name} (or EMULATOR_ALLOWED_HOSTS={name}).")

    def admits(self, name: str) -> bool:
        if is_loopback(name) or (not self.on_loopback and address(name) is not None):
            return True
        public = (urlsplit(self.public_base_url()).hostname or "").lower()
        return name == public or any(name == a or (a.startswith(".") and (name == a[1:] or name.endswith(a)))
                                     for a in self.allowed)
