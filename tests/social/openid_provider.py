"""panva's oidc-provider (npm, pinned in provider/package-lock.json), run as a real OpenID provider on a
loopback port, and a shopper signing in at it through its login form, as a browser would. The package is
installed by scripts/lib/npm.sh, once per machine, outside the checkout; without Node.js and npm these
tests fail in CI (CI=true) and skip elsewhere, saying why."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from tests.conftest import free_port, npm_packages
from tests.social.forge import KeySet

PROVIDER_DIR = Path(__file__).resolve().parent / "provider"
CALLBACK = "http://127.0.0.1:9/callback"  # where the provider sends the browser back; nobody listens there
CLIENT_ID = "storefront"


def provider_packages() -> Path:
    """The folder holding oidc-provider's node_modules/ (see conftest.npm_packages)."""
    return npm_packages(PROVIDER_DIR, "the social-login tests (a real OpenID provider)")


class OpenIDProvider:
    """oidc-provider as a child process on a free loopback port, signing with `keys` (whose private
    halves the tests keep, to forge). `restart(keys)` rotates its keys; `stop()` takes it down."""

    def __init__(self, directory: Path, keys: KeySet, clients: list[dict[str, Any]] | None = None,
                 accounts: dict[str, Any] | None = None) -> None:
        self.packages = provider_packages()
        self.directory = directory
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.clients = clients or [{"client_id": CLIENT_ID, "redirect_uris": [CALLBACK]}]
        self.accounts = accounts or {}
        self.keys = keys
        self.process: subprocess.Popen[str] | None = None
        self.start()

    def start(self) -> None:
        keys_file = self.directory / f"provider-{self.port}-keys.json"
        keys_file.write_text(json.dumps(self.keys.private_jwks()))
        self.log = self.directory / f"provider-{self.port}.log"
        env = {**os.environ, "PORT": str(self.port), "KEYS": str(keys_file), "CLIENTS": json.dumps(self.clients),
               "ACCOUNTS": json.dumps(self.accounts), "PACKAGES": str(self.packages)}
        with open(self.log, "w") as log:  # a file, not a pipe: nothing to drain while it runs
            self.process = subprocess.Popen(["node", "provider.mjs"], cwd=PROVIDER_DIR, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "listening on" not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"oidc-provider did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def restart(self, keys: KeySet | None = None) -> None:
        self.stop()
        self.keys = keys or self.keys
        self.start()

    def settings(self, name: str = "local", client_ids: list[str] | None = None) -> str:
        """ID_PROVIDERS naming this provider."""
        return json.dumps({name: {"issuer": self.issuer, "client_ids": client_ids or [CLIENT_ID]}})

    def sign_in(self, login: str, flow: str = "implicit", nonce: str | None = None) -> tuple[str, str]:
        """A shopper signs in with `login` through the provider's own pages: the authorization request, its
        login form, the redirect back. The implicit flow's ID token comes in the fragment; the code flow's
        from the token endpoint, with PKCE. Returns (ID token, the nonce sent)."""
        nonce = nonce or secrets.token_urlsafe(16)
        state = secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48)
        params = {"client_id": CLIENT_ID, "redirect_uri": CALLBACK, "scope": "openid email profile",
                  "nonce": nonce, "state": state, "response_type": "id_token" if flow == "implicit" else "code"}
        if flow == "code":
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        with requests.Session() as browser:
            response = browser.get(f"{self.issuer}/auth", params=params, allow_redirects=False, timeout=10)
            while not response.headers.get("Location", "").startswith(CALLBACK):
                if response.is_redirect:
                    response = browser.get(urljoin(response.url, response.headers["Location"]),
                                           allow_redirects=False, timeout=10)
                    continue
                # A page of the provider's: its login form (any login, any password), then its consent
                form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
                assert form, f"no form at {response.url}: {response.text[:300]}"
                fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.text))
                if fields.get("prompt") == "login":
                    fields.update(login=login, password="any")
                response = browser.post(urljoin(response.url, unescape(form.group(1))), data=fields,
                                        allow_redirects=False, timeout=10)
            back = urlsplit(response.headers["Location"])
            answer = {k: v[0] for k, v in parse_qs(back.fragment if flow == "implicit" else back.query).items()}
            assert answer.get("state") == state, answer
            if flow == "implicit":
                return answer["id_token"], nonce
            tokens = browser.post(f"{self.issuer}/token", timeout=10, data={
                "grant_type": "authorization_code", "code": answer["code"], "redirect_uri": CALLBACK,
                "client_id": CLIENT_ID, "code_verifier": verifier}).json()
            return tokens["id_token"], nonce

