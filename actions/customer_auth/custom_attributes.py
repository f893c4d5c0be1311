"""A customer's custom attributes (`CustomerCreateInput.custom_attributes`, Commerce 2.4.7 and later).

Commerce keeps a custom attribute only when its code names one of the store's customer attributes
that is not one of Commerce's own (`CustomerMetadata::getCustomAttributesMetadata`): the attributes a
merchant added. Which those are cannot be read from here, so the CUSTOMER_CUSTOM_ATTRIBUTES setting
lists them (default: none, as on a fresh Commerce). Any other code is refused with the message of
Commerce's attribute repository, before anything is stored. The attribute's value is bounded as
Commerce stores it, in a varchar(255) (a multiselect's options joined by commas), and each attribute
is given at most once, so their count is bounded by the list.

A code that names a secret (`password`, `api_token`, ...) cannot be listed: such an attribute's
value would be kept in the clear in the customer record and in every activation record.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable
from typing import Any

from .exchange_input import FIELDS
from .secret_names import names_secret

MAX_LENGTH = 255  # Commerce's customer_entity_varchar.value
MAX_SHOWN_CODE = 60  # Commerce's longest attribute code (Eav Attribute::ATTRIBUTE_CODE_MAX_LENGTH)
# Commerce's rule for an attribute code (Magento\Eav\Model\Validator\Attribute\Code): a letter, then
# letters, digits or underscores, 60 characters at most.
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,59}")
# Commerce's own customer attributes (Magento\Customer\Setup\CustomerSetup, and the login failure
# counters added later): never custom attributes.
BUILT_IN = frozenset({
    "website_id", "store_id", "created_in", "prefix", "firstname", "middlename", "lastname", "suffix",
    "email", "group_id", "dob", "password_hash", "rp_token", "rp_token_created_at", "default_billing",
    "default_shipping", "taxvat", "confirmation", "created_at", "updated_at", "gender",
    "disable_auto_group_change", "failures_num", "first_failure", "lock_expires",
})


def refusal(code: str) -> str | None:
    """Why `code` cannot be a custom attribute Commerce keeps (for the setting's error), or None."""
    if not _CODE.fullmatch(code):
        return "is no attribute code (a letter, then letters, digits or underscores, at most 60)"
    if names_secret(code):
        return "names a secret, which would be kept in the clear in customer and activation records"
    if code in BUILT_IN or code in FIELDS:  # nor can it shadow a field of the input
        return "is one of Commerce's own customer attributes"
    return None


def errors(attributes: Iterable[Any], accepted: Collection[str]) -> list[str]:
    """Commerce's messages for coerced `AttributeValueInput`s that cannot be kept: an unknown code,
    a code given twice, a value longer than MAX_LENGTH."""
    items = [item for item in attributes if isinstance(item, dict)]
    codes = Counter(item["attribute_code"] for item in items)
    messages = [unknown(code) for code in codes if code not in accepted]
    messages += [f'The "{code}" attribute is given {times} times: give each attribute once.'
                 for code, times in codes.items() if times > 1 and code in accepted]
    for item in items:
        if item["attribute_code"] in accepted and _length(item) > MAX_LENGTH:
            messages.append(f'"{item["attribute_code"]}" length must be equal or less than {MAX_LENGTH} characters.')
    return messages


def unknown(code: str) -> str:
    """Commerce's message for a code that names no attribute (the code cut short past 60 characters)."""
    shown = code if len(code) <= MAX_SHOWN_CODE else code[:MAX_SHOWN_CODE] + "…"
    return f'The attribute with a "{shown}" attributeCode doesn\'t exist. Verify the attribute and try again.'


def _length(item: dict[str, Any]) -> int:
    """The length of the value as Commerce stores it: the value given, or the selected options'
    values joined by commas."""
    options = [option["value"] for option in item.get("selected_options") or () if option]
    return max(len(item.get("value") or ""), len(",".join(options)))
