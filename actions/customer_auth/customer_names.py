"""Commerce's customer name validator (`Magento\\Customer\\Model\\Validator\\Name`, 2.4.7 and later).

A first, middle or last name holds only letters and marks (`\\p{L}\\p{M}`), digits (`\\d`), spaces and
the punctuation of names (comma, hyphen, underscore, period, apostrophes ' and ’, grave accent,
ampersand); anything else, `<script>` or `<img src=x onerror=...>` say, is refused with Commerce's
message (`First Name is not valid!`). Two choices of ours, both stricter:
- Commerce's pattern takes the first run of allowed characters and compares it with the name, so
  a name with no allowed character at all (`<>`) slips through (magento/magento2#38199). Here every
  character is checked.
- Commerce's `\\s` admits tabs and line breaks; here only spaces (Unicode's space separators) do,
  since a line break in a name forges lines wherever the name is written.
"""
from __future__ import annotations

import unicodedata

# field -> the name Commerce's validator gives it in its message
FIELDS = {"firstname": "First Name", "lastname": "Last Name", "middlename": "Middle Name"}
_PUNCTUATION = frozenset(",-_.'’`&")
_CATEGORIES = ("L", "M")  # every letter and mark category (Lu, Ll, ..., Mn, Mc, Me)


def is_valid(name: str) -> bool:
    return all(_allowed(ch) for ch in name)


def message(field: str) -> str:
    """Commerce's message for a name field (a key of FIELDS) whose value is not valid."""
    return f"{FIELDS[field]} is not valid!"


def _allowed(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category.startswith(_CATEGORIES) or category in ("Nd", "Zs") or ch in _PUNCTUATION
