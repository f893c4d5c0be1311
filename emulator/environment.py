"""The variables a manifest is interpolated with, read the way `aio` reads them.

aio loads `.env` with dotenv without overriding what is already in the process environment, so the
environment wins over the file. We compute the same mapping without touching `os.environ`, so
loading a manifest has no side effect on the emulator process (or on the tests).

Where dotenv warns about a line it cannot parse and drops it (a `CRYPT_KEY="unterminated` line would
leave the generated key in use, silently), this refuses the file, naming it and the line.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Mapping

from dotenv import dotenv_values
from dotenv.parser import parse_stream

_NAME = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=")


class EnvFileError(Exception):
    """A `.env` that cannot be read as a whole. The message names the file, the line and the variable,
    never a value (a line may hold a secret)."""

    def __init__(self, path: Path, line: int, statement: str, problem: str) -> None:
        name = _NAME.match(statement)
        what = f" ({name.group(1)}=…)" if name else ""
        super().__init__(f"{path}, line {line}{what}: {problem}; fix or remove the line")
        self.path, self.line = path, line


def _unclosed_quote(statement: str) -> bool:
    """The value starts with a quote that its first line does not close."""
    first = statement.split("\n", 1)[0]
    value = first.partition("=")[2].lstrip()
    return value[:1] in ("'", '"') and value[0] not in value[1:].replace("\\" + value[0], "")


def read_env_file(path: Path) -> dict[str, str]:
    """Every variable of the `.env` file at `path` (dotenv's reading, `${VAR}` expansion included);
    EnvFileError at the first line dotenv cannot parse, instead of its warning and a dropped line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise EnvFileError(path, line, "", "not UTF-8 text") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            statement = binding.original.string
            raise EnvFileError(path, binding.original.line, statement,
                               "a quote is opened and never closed on its line" if _unclosed_quote(statement)
                               else "cannot be parsed as NAME=value")
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}


def load_env(root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return `.env` at `root` overlaid by the process environment (environment wins)."""
    env_file = Path(root) / ".env"
    values = read_env_file(env_file) if env_file.is_file() else {}
    values.update(os.environ if environ is None else environ)
    return values
