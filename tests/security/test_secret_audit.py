"""Claim 7's watcher itself: it finds a secret or a signed token wherever it was written."""
from __future__ import annotations

from tests.secret_audit import SecretAudit


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
