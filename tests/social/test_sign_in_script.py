"""scripts/sign-in, run as a user runs it: the ID token on standard input, the emulator's sign-in."""
from __future__ import annotations

import subprocess
import time

from tests.conftest import ROOT, free_port, token_customer_id
from tests.social.conftest import SIGN_IN
from tests.social.forge import claims, sign
from tests.social.openid_provider import CLIENT_ID


def sign_in_script(*args: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "scripts" / "sign-in"), *args], input=token, capture_output=True, text=True,
                          timeout=120)


def test_sign_in_from_a_terminal(sign_in_emulator, openid_provider, provider_keys):
    id_token, nonce = openid_provider.sign_in("terminal")
    done = sign_in_script("--provider", "local", "--nonce", nonce, "--url", sign_in_emulator.base + SIGN_IN,
                          token=id_token)
    assert done.returncode == 0, done.stderr + done.stdout
    assert '"email": "terminal@example.com"' in done.stdout  # the decoded claims
    assert "first sign-in of this subject, now linked to terminal@example.com" in done.stdout
    token = done.stdout.rsplit("Commerce customer token:\n", 1)[1].strip()
    assert token_customer_id(token) >= 1
    assert id_token not in done.stdout and id_token.rsplit(".", 1)[1] not in done.stdout

    expired = sign(claims(iss=openid_provider.issuer, aud=CLIENT_ID, exp=int(time.time()) - 3600,
                          iat=int(time.time()) - 7200), provider_keys.first)
    refused = sign_in_script("--provider", "local", "--url", sign_in_emulator.base + SIGN_IN, token=expired)
    assert refused.returncode == 1
    assert "refused: token-expired: The ID token has expired." in refused.stdout
    assert "why: the failing step's activation log says" in refused.stdout


def test_nothing_answering_is_one_clear_line():
    url = f"http://127.0.0.1:{free_port()}{SIGN_IN}"
    done = sign_in_script("--provider", "local", "--url", url, token="a.b.c")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"error: nothing answers at {url} (is the emulator running? ./scripts/emulate)"
