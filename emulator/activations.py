"""Activation records shaped like OpenWhisk's, a bounded store for them, and secret redaction.

The record fields and the status codes follow OpenWhisk's WhiskActivation / ActivationResponse,
so `wsk activation get`-style tooling reads them. The store keeps the newest N records in memory
(no database: the emulator is for development). Every record is redacted before anyone reads it,
so a secret an action printed or returned never reaches the activations API: the secrets are
captured when the record is stored, the redaction itself is done on its first read (under load
most records are pushed out unread, and the exchange does not wait for it).
"""
from __future__ import annotations

import copy
import os
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

SUCCESS, APPLICATION_ERROR, DEVELOPER_ERROR, INTERNAL_ERROR = 0, 1, 2, 3
STATUS_NAMES = {
    SUCCESS: "success",
    APPLICATION_ERROR: "application error",
    DEVELOPER_ERROR: "action developer error",
    INTERNAL_ERROR: "whisk internal error",
}
REDACTED = "[REDACTED]"
ACTIVATION_HEADER = "x-openwhisk-activation-id"  # names the activation(s) that answered a call
MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary words

# A compact JWS (a customer token): its header and claims stay readable, its signature is removed,
# so a record shows whose token it was without holding a usable one.
_JWS = re.compile(r"\b(eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+")
# The value after a word ending in "authorization" (Authorization, Proxy-Authorization, ...): a header's.
_AUTH_HEADER = re.compile(r"""(?i)((?<![\w-])([\w-]*authorization)["']?\s*[:=]\s*["']?)([^"'\r\n,}]+)""")


def new_activation_id() -> str:
    """32 random hex digits, as OpenWhisk's ids (a uuid4's hex without building the UUID)."""
    return os.urandom(16).hex()


@dataclass
class Response:
    status_code: int
    result: dict[str, Any]

    @property
    def status(self) -> str:
        return STATUS_NAMES[self.status_code]

    @property
    def success(self) -> bool:
        return self.status_code == SUCCESS

    def to_dict(self) -> dict[str, Any]:
        """As OpenWhisk shows a response (ActivationResponse.toExtendedJson): the status code is its
        store's detail, shown as `status` and `success` (a list summary carries it)."""
        return {"status": self.status, "success": self.success, "result": self.result}


@dataclass
class Activation:
    """One activation. Times are epoch milliseconds, as OpenWhisk stores them."""

    activation_id: str
    namespace: str
    name: str
    start: int
    end: int
    response: Response
    logs: list[str] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    version: str = "0.0.1"
    subject: str = ""
    cause: str | None = None
    duration: int | None = None

    def __post_init__(self) -> None:
        if self.duration is None:
            self.duration = max(0, self.end - self.start)
        if not self.subject:
            self.subject = self.namespace

    def annotation(self, key: str) -> Any:
        return next((a["value"] for a in self.annotations if a["key"] == key), None)

    def summary(self) -> dict[str, Any]:
        """What OpenWhisk lists without `docs=true`: the record without logs and result, and the
        response's status code as `statusCode`."""
        return {**self._fields(), "statusCode": self.response.status_code}

    def to_dict(self) -> dict[str, Any]:
        return {**self._fields(), "logs": list(self.logs), "response": self.response.to_dict()}

    def _fields(self) -> dict[str, Any]:
        out = {
            "activationId": self.activation_id, "namespace": self.namespace, "name": self.name,
            "version": self.version, "subject": self.subject, "publish": False,
            "start": self.start, "end": self.end, "duration": self.duration,
            "annotations": copy.deepcopy(self.annotations),
        }
        if self.cause:
            out["cause"] = self.cause
        return out


class Redactor:
    """Replaces known secret values and Authorization header values in text and JSON values.
    `not_headers`: words ending in "authorization" that name no header (an error category whose
    reason the developer reads the log for), so what follows them stays."""

    def __init__(self, secrets: Callable[[], Iterable[str]] | None = None, not_headers: Iterable[str] = ()) -> None:
        self._secrets = secrets or (lambda: ())
        self._not_headers = frozenset(word.lower() for word in not_headers)
        self._sorted: tuple[tuple[str, ...], list[str]] = ((), [])  # the last list asked for, sorted

    def deferred(self) -> Callable[[Activation], Activation]:
        """A record's redaction with the secrets of now, to be done later (ActivationStore.add):
        a redacted copy of its logs and result."""
        secrets = self._current()
        return lambda act: self._activation(act, secrets)

    def _activation(self, act: Activation, secrets: list[str]) -> Activation:
        clean = copy.copy(act)
        clean.logs = [self._redact(line, secrets) for line in act.logs]
        clean.response = Response(act.response.status_code, self._redact_value(act.response.result, secrets))
        clean.annotations = [dict(a) for a in act.annotations]  # values are never changed in place
        return clean

    def _current(self) -> list[str]:
        """The secrets to replace, longest first (a secret holding another is replaced whole).
        Sorted again only when the list asked for changed."""
        given = tuple(self._secrets())
        known, ordered = self._sorted
        if given != known:
            ordered = sorted({s for s in given if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH},
                             key=len, reverse=True)
            self._sorted = (given, ordered)
        return ordered

    def _redact(self, text: str, secrets: list[str]) -> str:
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if "." in text:
            text = _JWS.sub(lambda m: f"{m.group(1)}.{REDACTED}", text)
        return _AUTH_HEADER.sub(self._header_value, text)

    def _header_value(self, match: re.Match[str]) -> str:
        return match.group(0) if match.group(2).lower() in self._not_headers else match.group(1) + REDACTED

    def _redact_value(self, value: Any, secrets: list[str]) -> Any:
        if isinstance(value, str):
            return self._redact(value, secrets)
        if isinstance(value, list):
            return [self._redact_value(v, secrets) for v in value]
        if isinstance(value, dict):
            return {k: (REDACTED if str(k).lower() == "authorization" and isinstance(v, str)
                        else self._redact_value(v, secrets)) for k, v in value.items()}
        return value


class _Entry:
    """A stored record and, until its first read, the redaction it still needs."""

    __slots__ = ("activation", "redact")

    def __init__(self, activation: Activation, redact: Callable[[Activation], Activation] | None) -> None:
        self.activation, self.redact = activation, redact

    def ready(self) -> Activation:
        """The record redacted, done by its first reader, outside the store's lock (two readers at once
        may both redact it: the redaction of a redacted record changes nothing)."""
        redact = self.redact
        if redact is not None:
            self.activation = redact(self.activation)
            self.redact = None
        return self.activation


class ActivationStore:
    """The newest `size` activations, thread-safe, listed newest first. `add(record, redact)` keeps
    `redact` (Redactor.deferred) to apply on the record's first read: nothing unredacted is returned."""

    def __init__(self, size: int = 1000) -> None:
        self._items: deque[_Entry] = deque(maxlen=max(1, size))
        self._lock = threading.Lock()

    def add(self, activation: Activation, redact: Callable[[Activation], Activation] | None = None) -> None:
        with self._lock:
            self._items.append(_Entry(activation, redact))

    def get(self, activation_id: str) -> Activation | None:
        with self._lock:
            entry = next((e for e in reversed(self._items) if e.activation.activation_id == activation_id), None)
        return None if entry is None else entry.ready()

    def list(self, limit: int = 30, skip: int = 0, name: str | None = None) -> list[Activation]:
        """Newest first; `name` is 'action' or 'package/action' as in `wsk activation list NAME`."""
        return self.page(limit, skip, name)[0]

    def page(self, limit: int, skip: int = 0, name: str | None = None, status: int | None = None,
             since: int | None = None, upto: int | None = None) -> tuple[list[Activation], int]:
        """`list`, also by status code and by start (`since` <= start <= `upto`, epoch ms), and how many
        records match. Newest first means the last ended first, so a sequence comes above the
        components it ran (OpenWhisk's view orders by start, which puts it below them). Names, paths,
        times and status codes are never secret: the filter looks at the records as stored, and only
        the page is redacted."""
        wanted = name.strip("/") if name else None
        with self._lock:
            entries = [e for e in reversed(self._items)
                       if (wanted is None or e.activation.name == wanted
                           or _path_of(e.activation).endswith("/" + wanted))
                       and (status is None or e.activation.response.status_code == status)
                       and (since is None or e.activation.start >= since)
                       and (upto is None or e.activation.start <= upto)]
        return [e.ready() for e in entries[skip: skip + limit]], len(entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def _path_of(activation: Activation) -> str:
    return str(activation.annotation("path") or activation.name)
