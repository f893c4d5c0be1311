"""A shopper's password: Commerce's strength rules, its salted hash, and the seal it travels in.

OpenWhisk keeps every sequence component's result as an activation record, so the first action
(verify-oauth) takes the password out of the exchange input (`exchange_input.seal`) and passes on
only its seal: the strength rules' messages, else its PBKDF2-SHA256 hash. The plain password is
never stored nor passed on.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from typing import TypedDict

MIN_LENGTH = 8
MIN_CLASSES = 3
PBKDF2_ROUNDS = 100_000
REDACTED = "[REDACTED]"
NOT_A_STRING = f"String cannot represent a non string value: {REDACTED}"  # graphql-php's words, the value hidden


class PasswordSeal(TypedDict):
    """What travels instead of a password: the strength rules' messages, and its hash when there are none."""

    errors: list[str]
    hash: str | None


def seal(password: str) -> PasswordSeal:
    """The password sealed; hashing costs about 50 ms (PBKDF2, 100,000 rounds), paid by every exchange
    that sends a password, since the seal is made before the customer is looked up."""
    errors = strength_errors(password)
    return {"errors": errors, "hash": None if errors else hash_password(password)}


def strength_errors(password: str) -> list[str]:
    """Commerce's messages for a password too short or of too few character classes."""
    if len(password) < MIN_LENGTH:
        return [f"The password needs at least {MIN_LENGTH} characters. Create a new password and try again."]
    classes = sum(bool(re.search(pattern, password)) for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]"))
    if classes < MIN_CLASSES:
        return [
            f"Minimum of different classes of characters in password is {MIN_CLASSES}. "
            "Classes of characters: Lower Case, Upper Case, Digits, Special Characters."
        ]
    return []


def hash_password(password: str) -> str:
    """A salted PBKDF2-SHA256 hash, as `pbkdf2_sha256$rounds$salt$digest`."""
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), PBKDF2_ROUNDS)
    return f"pbkdf2_sha256${PBKDF2_ROUNDS}${salt}${digest.hex()}"
