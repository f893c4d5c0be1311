"""verify-id-token: verifies the shopper's OpenID Connect ID token (OpenID Connect Core 3.1.3.7).

The first component of the raw web sequence `sign-in`: it reads the request as the client sent it,
verifies the token against the provider `ID_PROVIDERS` names, uses it up (each ID token signs in once),
and passes on what the provider asserts, never the token: each component's result is kept as an
activation record.
"""
import time

from customer_auth import settings as store_settings
from customer_auth.store import open_store
from customer_auth.web import log
from social_login import settings, sign_in_request, single_use
from social_login.cache import DocumentCache
from social_login.id_token import verify
from social_login.identity import Identity
from social_login.refusals import UnknownProvider, sign_in_step

DOCUMENTS = DocumentCache()  # the providers' discovery documents and key sets, kept per warm container


@sign_in_step
def main(params: dict) -> dict:
    request = sign_in_request.parse(params)
    chosen = settings.providers(params).get(request.provider)
    if chosen is None:
        raise UnknownProvider(f"no provider {request.provider[:64]!r} in ID_PROVIDERS")
    policy = settings.verification_policy(params)
    now = int(time.time())
    token = verify(request.id_token, chosen, request.nonce, policy, DOCUMENTS, now)
    single_use.use_once(open_store(store_settings.STORE_URL.read(params)), token, policy.leeway, now)
    log.info("%s ID token verified for subject %s", chosen.name, token.subject[:64])
    return {
        "identity": Identity.of(token, chosen).as_dict(),
        "id_token": {"header": token.header, "claims": token.claims},  # decoded, without its signature
        "customer": request.customer,
        "store_code": request.store_code,
    }
