"""Which names say that a value is a secret: `password`, and the same under any other spelling.

A client that sends its shopper's password as `pwd`, `Pass`, `pass\u200bword` or `newPassword`
sends a password all the same. The name is read the way a person reads it: compatibility forms
folded (NFKC), invisible format characters (zero-width spaces, joiners) dropped, case ignored,
split into words at separators and camelCase humps.
"""
from __future__ import annotations

import re
import unicodedata

# Parts that say "secret" wherever they stand in the joined name (`userpassword`, `apiToken`).
_SECRET_PARTS = ("passw", "passphrase", "secret", "token", "credential", "apikey", "privatekey")
# Words that say it only on their own (`pass`, `card_pin`): inside a word they are other words
# (`passport`, `shipping`).
_SECRET_WORDS = frozenset({"pass", "pwd", "pw", "pin", "otp", "cvv", "cvc"})
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def names_secret(name: object) -> bool:
    """Whether a field's name (or a custom attribute's code) says it holds a secret."""
    text = unicodedata.normalize("NFKC", str(name))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    words = [word for word in _SEPARATORS.split(_HUMP.sub(" ", text).lower()) if word]
    joined = "".join(words)
    return any(part in joined for part in _SECRET_PARTS) or any(word in _SECRET_WORDS for word in words)
