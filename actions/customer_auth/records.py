"""What stored entities share: a dataclass kept by the stores as a plain dict, and read back."""
from __future__ import annotations

from dataclasses import fields
from functools import cache
from datetime import datetime, timezone
from typing import Any, TypeVar

R = TypeVar("R", bound="Record")


def now_iso(when: float | None = None) -> str:
    """Now (or `when`, epoch seconds) in Commerce's datetime format (UTC), as stored in created_at /
    updated_at."""
    moment = datetime.now(timezone.utc) if when is None else datetime.fromtimestamp(when, timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class Record:
    """Mixed into a dataclass: `to_record` gives every field; `from_record` ignores keys it does not
    know (a column or key a newer version added)."""

    def to_record(self) -> dict[str, Any]:
        """Every field, lists and dicts copied: the record shares nothing mutable with the entity.
        (What `dataclasses.asdict` gives for these flat records, at a fraction of its cost on the
        exchange's path.)"""
        return {name: _copied(getattr(self, name)) for name in _field_names(type(self))}

    @classmethod
    def from_record(cls: type[R], record: dict[str, Any]) -> R:
        names = _field_names(cls)
        return cls(**{k: v for k, v in record.items() if k in names})


@cache
def _field_names(cls: type) -> dict[str, None]:
    """The dataclass's field names, in order (a dict: `from_record` looks keys up in it)."""
    return dict.fromkeys(f.name for f in fields(cls))


def _copied(value: Any) -> Any:
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    return value
