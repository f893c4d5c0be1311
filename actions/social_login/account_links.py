"""Which Commerce account a verified identity opens, and the exchange that opens it.

- A subject seen before opens the account it was first linked to (its email then), whatever email
  the provider sends now: an email changed at the provider, or reassigned to someone else there,
  moves no account.
- A first sign-in needs an email the provider verified (`email-missing`, `email-not-verified`); the
  subject is linked to it once Commerce has exchanged it (of two concurrent first sign-ins with
  different emails, the one that links second signs in to the account the other linked).
- An email that already has a Commerce account no subject is linked to (a shopper who registered with a
  password) is linked too by default, as Adobe's own flow does. With `LINK_EXISTING_ACCOUNTS=false`
  it is refused (`account-exists`): Commerce is asked first (`isEmailAvailable`, per website); since
  Commerce 2.4.7 answers that truthfully only with "Enable Guest Checkout Login" on, the exchanged
  customer's `created_at` is checked as well, and a token for an account older than the exchange is
  dropped, never returned.
- The names come from the token (`given_name`, `family_name`), else from the request (Apple sends them
  once, to the client), else from the link (the names of the first sign-in); else `names-required`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from customer_auth.records import now_iso
from customer_auth.store import AccountLink, Store

from .commerce import Commerce, Exchanged
from .identity import Identity
from .refusals import AccountExists, EmailMissing, EmailNotVerified, NamesRequired

log = logging.getLogger("customer_auth.social_login")

# How much older than the exchange's start a new account may seem (Commerce's clock against ours)
# before it counts as one that existed already.
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True)
class SignedIn:
    exchanged: Exchanged
    link: AccountLink
    new_link: bool  # this sign-in linked the subject

    def answer(self) -> dict[str, Any]:
        """The web answer's body: the exchange's customer and token, and the link it went by."""
        return {"customer": self.exchanged.customer, "token": self.exchanged.token,
                "link": {"issuer": self.link.issuer, "subject": self.link.subject,
                         "email": self.link.email, "linked_at": self.link.linked_at, "new": self.new_link}}


def sign_in(store: Store, identity: Identity, customer: dict[str, Any], store_code: str, commerce: Commerce,
            link_existing: bool) -> SignedIn:
    link = store.account_link(identity.issuer, identity.subject)
    email = link.email if link else _verified_email(identity)
    refuse_existing = link is None and not link_existing and not store.email_linked(email)
    if refuse_existing and not commerce.email_available(email, store_code):
        raise AccountExists(f"{email} has a Commerce account no subject is linked to (isEmailAvailable), "
                            "and LINK_EXISTING_ACCOUNTS is false")
    firstname, lastname = _names(identity, customer, link)
    started = datetime.now(timezone.utc)
    wanted = {"email": email, "firstname": firstname, "lastname": lastname}
    if "is_subscribed" in customer:
        wanted["is_subscribed"] = customer["is_subscribed"]
    exchanged = commerce.exchange(wanted, store_code)
    if refuse_existing:
        _check_new(exchanged, email, started)
    if link is not None:
        return SignedIn(exchanged, link, False)
    stored, created = store.link_account(AccountLink(identity.issuer, identity.subject, email, firstname, lastname,
                                                     now_iso()))
    if stored.email != email:
        # A concurrent first sign-in of the subject, with another email, linked first: the subject opens
        # that account, now as on every later sign-in, not the one exchanged above.
        log.warning("subject %s was linked to another email meanwhile: signing in to that account",
                    identity.subject[:64])
        exchanged = commerce.exchange({**wanted, "email": stored.email}, store_code)
    log.info("%s subject %s %s", identity.provider, identity.subject[:64],
             "linked to its account" if created else "was linked meanwhile")
    return SignedIn(exchanged, stored, created)


def _verified_email(identity: Identity) -> str:
    if not identity.email:
        raise EmailMissing(f"{identity.provider} subject {identity.subject[:64]!r}: no email claim "
                           "(ask for the `email` scope)")
    if not identity.email_verified:
        raise EmailNotVerified(f"{identity.provider} has not verified the email of subject {identity.subject[:64]!r}")
    return identity.email


def _names(identity: Identity, customer: dict[str, Any], link: AccountLink | None) -> tuple[str, str]:
    firstname = identity.given_name or customer.get("firstname") or (link.firstname if link else "")
    lastname = identity.family_name or customer.get("lastname") or (link.lastname if link else "")
    missing = [name for name, value in (("firstname", firstname), ("lastname", lastname)) if not value]
    if missing:
        raise NamesRequired(f"no {' or '.join(missing)}: not in the token, the request nor a link")
    return firstname, lastname


def _check_new(exchanged: Exchanged, email: str, started: datetime) -> None:
    """After `isEmailAvailable` said the email is free: an account created before the exchange started
    existed already (Commerce hides emails unless its Guest Checkout Login is on)."""
    if exchanged.created_at is None:
        log.warning("Commerce did not say when %s's account was created: only isEmailAvailable decided", email)
    elif exchanged.created_at < started - CLOCK_SKEW:
        raise AccountExists(f"{email} has a Commerce account created {exchanged.created_at:%Y-%m-%d %H:%M:%S} "
                            "that no subject is linked to; the exchange's token was dropped. isEmailAvailable "
                            "said it was free: turn on Commerce's Enable Guest Checkout Login to refuse before "
                            "exchanging")
