"""Claim 7's watcher itself: it learns every secret of an input, whatever its name, and finds a secret
or a signed token wherever it was written."""
from __future__ import annotations

import base64
import json

from tests.conftest import SEED_CUSTOMER, settings, signed_web_params
from tests.secret_audit import SecretAudit, secrets_in_input, secrets_in_params


def test_the_audit_finds_secrets_and_signed_tokens():
    audit = SecretAudit()
    audit.secret("s3cretvalue0123456789")
    audit.sink("log", "nothing to see")
    audit.sink("activation", '{"result": "eyJraWQiOiIxIn0.eyJ1aWQiOjF9.[REDACTED]"}')
    assert audit.leaks() == []
    audit.sink("log", "oops s3cretvalue0123456789 here")
    audit.sink("error message", "eyJraWQiOiIxIn0.eyJ1aWQiOjF9.abcdefghijklmnopqrstuvwxyz012")
    assert [leak.split(":")[0] for leak in audit.leaks()] == ["log", "error message"]


def test_an_id_token_is_found_as_the_action_wrote_it_though_the_emulator_redacts_it():
    audit = SecretAudit()
    id_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLW9mLWEtcmVhbC1pZC10b2tlbg"
    audit.id_token(id_token)
    audit.unredacted_sink("activation verify-id-token", '{"claims": {"sub": "1"}, "header": {"alg": "RS256"}}')
    audit.sink("activation verify-id-token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.[REDACTED]")
    assert audit.leaks() == []
    audit.unredacted_sink("activation verify-id-token", f'{{"logs": ["got {id_token}"]}}')
    audit.unredacted_sink("activation exchange-customer-token", '{"sig": "c2lnbmF0dXJlLW9mLWEtcmVhbC1pZC10b2tlbg"}')
    assert [leak.split(":")[0] for leak in audit.leaks()] == ["activation verify-id-token",
                                                            "activation exchange-customer-token"]


def test_the_suite_is_being_watched():
    from tests.secret_audit import AUDIT

    assert AUDIT.secrets  # the crypt key at least


# Every field of an exchange input that holds a secret, whatever its name, and none that holds none.
SECRETS = [f"Pw-{i}-Hunter2-Secret" for i in range(8)]
INPUT = {
    "customer": {
        **SEED_CUSTOMER,
        "pwd": SECRETS[0], "pass": SECRETS[1], "pass\u200bword": SECRETS[2],  # undefined fields, named like one
        "notes": {"any": [SECRETS[3]]},  # an undefined field, whatever its name and shape
        "custom_attributes": [
            {"attribute_code": "password", "value": SECRETS[4]},  # custom attributes named like secrets
            {"attribute_code": "api_token", "selected_options": [{"value": SECRETS[5]}]},
            {"attribute_code": "loyalty", "value": "gold-member", "extra": SECRETS[6]},
        ],
    },
    "credentials": SECRETS[7],
}


def test_the_audit_learns_every_secret_of_an_input_whatever_its_name():
    assert sorted(set(secrets_in_input(INPUT))) == SECRETS  # not the names, the email nor the listed attribute's value
    assert secrets_in_input({"customer": {**SEED_CUSTOMER, "firstname": {"newPassword": "Pw-Deep-Secret"}}}) == [
        "Pw-Deep-Secret"]


def test_the_audit_would_report_verify_oauth_passing_such_a_value_on(actions, store_url, integration):
    """The real verify-oauth's result leaks none of them; one that passed the input on as the client
    sent it (or sealed the `password` field alone, as verify-oauth once did) is reported, once a secret."""
    params = {**signed_web_params(integration, body=INPUT), **settings(store_url, CUSTOMER_CUSTOM_ATTRIBUTES="loyalty")}
    audit = SecretAudit()
    for value in secrets_in_params(params):
        audit.secret(value)
    result = actions["verify-oauth"].main(params)
    assert result["input"]["customer"]["custom_attributes"][2]["value"] == "gold-member"
    audit.sink("activation verify-oauth", json.dumps(result))
    assert audit.leaks() == []
    audit.sink("activation verify-oauth", json.dumps({**result, "input": INPUT}))
    assert len(audit.leaks()) == len(SECRETS)


def test_a_graphql_request_to_the_graphql_action_is_read_as_graphql():
    """The graphql action's raw body is a GraphQL request, not an exchange input: only what secret names
    hold in it is a secret (the exchange input it carries is learned where verify-oauth receives it),
    never the shopper's email and names."""
    request = {"query": "mutation($input: ExchangeExternalCustomerTokenInput!) { exchangeExternalCustomerToken("
                        "input: $input) { token } }",
               "variables": {"input": {"customer": {**SEED_CUSTOMER, "password": SECRETS[0]}}}}
    params = {"__ow_method": "post", "__ow_headers": {"content-type": "application/json"},
              "__ow_body": base64.b64encode(json.dumps(request).encode()).decode()}
    assert secrets_in_params(params) == [SECRETS[0]]
