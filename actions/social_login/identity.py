"""What a verified ID token asserts about the shopper, as verify-id-token hands it to
exchange-customer-token: the provider, the subject (under its canonical issuer), the email and whether
the provider verified it, and the names. Plain JSON: it is kept in the activation record.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .providers import Provider

if TYPE_CHECKING:
    from .id_token import IdToken


@dataclass(frozen=True)
class Identity:
    provider: str
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    given_name: str | None
    family_name: str | None

    @classmethod
    def of(cls, token: IdToken, provider: Provider) -> Identity:
        claims = token.claims
        email = claims.get("email") if isinstance(claims.get("email"), str) and claims["email"].strip() else None
        return cls(provider=provider.name, issuer=token.issuer, subject=token.subject,
                   email=email.strip() if email else None, email_verified=email_verified(claims, provider),
                   given_name=_name(claims.get("given_name")), family_name=_name(claims.get("family_name")))

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Identity:
        return cls(**{name: value.get(name) for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def email_verified(claims: dict[str, Any], provider: Provider) -> bool:
    """`email_verified` true, or the string "true" (Apple sends strings). Entra ID sends none: its
    optional claim `xms_edov` (the email's domain owner verified it) stands in. A provider configured
    with `assume_email_verified` vouches for every email it sends without the claim."""
    if "email_verified" in claims:
        return _true(claims["email_verified"])
    if provider.microsoft:
        return _true(claims.get("xms_edov"))
    return provider.assume_email_verified


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _name(value: Any) -> str | None:
    return value.strip()[:255] or None if isinstance(value, str) else None
