"""Text for a log line, a terminal or the audit trail, with control characters escaped.

Request text (a Host or X-Forwarded-Host header, a `Store` header, a JSON field) reaches log lines
and the audit trail. Printed raw, an escape sequence would drive the reader's terminal (move the
cursor, rewrite earlier lines, set the window title), and a line break (a newline, or U+0085 and
U+2028, which Python's `splitlines` and some viewers break at) would forge a line of its own.
`printable` writes each such character as `\\uNNNN`, which is also a JSON string escape: a JSON line
passed through it is still JSON.
"""
from __future__ import annotations

import logging
from typing import Any

# C0 and C1 controls and DEL; the line and paragraph separators; the bidirectional controls, which
# reorder what a terminal shows (Trojan Source); lone surrogates, which no UTF-8 encoder writes.
_ESCAPED = (
    [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F),
     *range(0x2066, 0x206A), *range(0xD800, 0xE000)]
)
_TABLE = {code: f"\\u{code:04x}" for code in _ESCAPED}


def printable(text: str, keep: str = "") -> str:
    """`text` with every control character but those in `keep` written as `\\uNNNN`."""
    if text.isascii() and text.isprintable():
        return text
    if not keep:
        return text.translate(_TABLE)
    return text.translate({code: escape for code, escape in _TABLE.items() if chr(code) not in keep})


class PrintableFormatter(logging.Formatter):
    """A log formatter whose lines hold no control character: the message is one line, whatever it
    quotes; a traceback keeps its own line breaks and loses any other control character."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return printable(super().formatException(ei), keep="\n")

    def formatStack(self, stack_info: str) -> str:
        return printable(super().formatStack(stack_info), keep="\n")
