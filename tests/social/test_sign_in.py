"""Sign-in end to end: a real OpenID provider's tokens, through the emulator's sign-in web sequence,
to a Commerce customer token from the emulator's own /graphql; on both storage backends."""
from __future__ import annotations

from tests.conftest import token_customer_id

CUSTOMER_QUERY = "{ customer { email firstname lastname } }"


def test_a_real_sign_in_then_the_customer_query(sign_in_emulator, openid_provider):
    id_token, nonce = openid_provider.sign_in("grace")
    answer = sign_in_emulator.sign_in({"provider": "local", "id_token": id_token, "nonce": nonce})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["customer"] == {"email": "grace@example.com", "firstname": "Grace", "lastname": "Example",
                                "is_subscribed": False}
    assert body["link"]["new"] is True and body["link"]["issuer"] == openid_provider.issuer
    me = sign_in_emulator.graphql(CUSTOMER_QUERY, body["token"])
    assert me == {"data": {"customer": {"email": "grace@example.com", "firstname": "Grace", "lastname": "Example"}}}

    again, nonce = openid_provider.sign_in("grace", flow="code")
    second = sign_in_emulator.sign_in({"provider": "local", "id_token": again, "nonce": nonce}).json()
    assert second["link"]["new"] is False
    assert token_customer_id(second["token"]) == token_customer_id(body["token"])
