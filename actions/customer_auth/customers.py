"""Commerce customers: the stored record, find-or-create per website, and the GraphQL `Customer` shape."""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import NoSuchEntityError
from .records import Record
from .stores import StoreView

if TYPE_CHECKING:
    from .store import Store

DEFAULT_GROUP_ID = 1  # General
CONFIRMATION_NOT_REQUIRED = "ACCOUNT_CONFIRMATION_NOT_REQUIRED"

# CustomerCreateInput fields copied onto a new customer as given.
PROFILE_FIELDS = (
    "firstname",
    "lastname",
    "middlename",
    "prefix",
    "suffix",
    "gender",
    "taxvat",
    "allow_remote_shopping_assistance",
)


@dataclass
class Customer(Record):
    email: str
    firstname: str
    lastname: str
    website_id: int
    store_id: int
    group_id: int = DEFAULT_GROUP_ID
    middlename: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    dob: str | None = None
    gender: int | None = None
    taxvat: str | None = None
    is_subscribed: bool = False
    allow_remote_shopping_assistance: bool = False
    confirmation_status: str = CONFIRMATION_NOT_REQUIRED
    custom_attributes: list[dict[str, Any]] = field(default_factory=list)
    password_hash: str | None = None
    created_at: str = ""
    updated_at: str = ""
    id: int | None = None

    @property
    def email_key(self) -> str:
        """Customers are unique per (website, email), compared case-insensitively."""
        return email_key(self.email)

    def public_record(self) -> dict[str, Any]:
        """The record passed between actions: everything but the password hash."""
        record = self.to_record()
        del record["password_hash"]
        return record


def email_key(email: str) -> str:
    return email.strip().lower()


def encode_uid(value: int | str) -> str:
    """Commerce's `uid` encoding for storefront ids: base64 of the id's text."""
    return base64.b64encode(str(value).encode()).decode()


def graphql_customer(record: dict[str, Any]) -> dict[str, Any]:
    """The GraphQL `Customer` type's fields, from a stored (public) record."""
    return {
        "id": encode_uid(record["id"]),
        "email": record["email"],
        "firstname": record["firstname"],
        "lastname": record["lastname"],
        "middlename": record.get("middlename"),
        "prefix": record.get("prefix"),
        "suffix": record.get("suffix"),
        "dob": record.get("dob"),
        "date_of_birth": record.get("dob"),
        "gender": record.get("gender"),
        "taxvat": record.get("taxvat"),
        "is_subscribed": bool(record.get("is_subscribed")),
        "allow_remote_shopping_assistance": bool(record.get("allow_remote_shopping_assistance")),
        "created_at": record.get("created_at"),
        "confirmation_status": record.get("confirmation_status") or CONFIRMATION_NOT_REQUIRED,
        "group": {"uid": encode_uid(record.get("group_id", DEFAULT_GROUP_ID))},
        "group_id": record.get("group_id", DEFAULT_GROUP_ID),
        "addresses": [],
        "default_billing": None,
        "default_shipping": None,
        "custom_attributes": record.get("custom_attributes") or [],
    }


@dataclass(frozen=True)
class AccountPolicy:
    create_missing: bool = True
    update_existing: bool = False
    newsletter_enabled: bool = True


def find_or_create(
    store: Store, data: dict[str, Any], view: StoreView, policy: AccountPolicy, now: str
) -> tuple[Customer, bool]:
    """The customer of `data["email"]` in the store's website, created when missing (as createCustomerV2).

    Returns (customer, created). Two concurrent calls for one new email create one customer.
    """
    if not policy.create_missing:
        existing = store.find_customer(view.website_id, data["email"])
        if existing is None:
            raise NoSuchEntityError(
                f"No such entity with email = {data['email']}, websiteId = {view.website_id}",
                reason="CUSTOMER_CREATE_MISSING is off",
            )
        created = False
        customer = existing
    else:
        candidate = Customer(
            email=data["email"],
            firstname=data["firstname"],
            lastname=data["lastname"],
            website_id=view.website_id,
            store_id=view.id,
            created_at=now,
            updated_at=now,
        )
        _apply_profile(candidate, data, policy)
        candidate.password_hash = data.get("password_hash")
        customer, created = store.find_or_create_customer(candidate)
    if not created and policy.update_existing:
        _apply_profile(customer, data, policy)
        customer.updated_at = now
        store.save_customer(customer)
    return customer, created


def _apply_profile(customer: Customer, data: dict[str, Any], policy: AccountPolicy) -> None:
    for name in PROFILE_FIELDS:
        if data.get(name) is not None:
            setattr(customer, name, data[name])
    if data.get("dob"):
        customer.dob = data["dob"]
    if data.get("custom_attributes") is not None:
        customer.custom_attributes = list(data["custom_attributes"])
    if data.get("is_subscribed") is not None:
        # With newsletters disabled a subscription request comes back false, as in Commerce.
        customer.is_subscribed = bool(data["is_subscribed"]) and policy.newsletter_enabled
