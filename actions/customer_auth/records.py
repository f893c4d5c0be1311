"""What stored entities share: a dataclass kept by the stores as a plain dict, and read back."""
from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime, timezone
from typing import Any, TypeVar

R = TypeVar("R", bound="Record")


def now_iso() -> str:
    """Now in Commerce's datetime format (UTC), as stored in created_at / updated_at."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class Record:
    """Mixed into a dataclass: `to_record` gives every field; `from_record` ignores keys it does not
    know (a column or key a newer version added)."""

    def to_record(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_record(cls: type[R], record: dict[str, Any]) -> R:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in record.items() if k in names})
