"""Every script's --help shows each option's default beside it (and the emulator's, the variable that
sets it), so a user need not read the code to know what happens without the option."""
from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys

import pytest

from emulator.project import HelpFormatter
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts" / "lib"))


class _Parsed(Exception):
    pass


def parsers_of(main) -> list[argparse.ArgumentParser]:
    """The parser `main` builds, and its subcommands', caught as it starts parsing."""
    built: list[argparse.ArgumentParser] = []

    def capture(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        built.append(self)
        raise _Parsed

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = capture  # type: ignore[method-assign]
    try:
        with pytest.raises(_Parsed):
            main([])
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    parser = built[0]
    return [parser, *(p for action in parser._actions if isinstance(action, argparse._SubParsersAction)
                      for p in action.choices.values())]


SCRIPTS = sorted(path.name for path in (ROOT / "scripts").iterdir() if path.is_file() and path.name not in ("emulate", "test"))


def test_every_script_is_looked_at() -> None:
    """A script added later is checked too: each has its module in scripts/lib (emulate's is the
    emulator's own, tested below; test is pytest's)."""
    assert SCRIPTS and all((ROOT / "scripts" / "lib" / f"{name.replace('-', '_')}.py").is_file() for name in SCRIPTS)


@pytest.mark.parametrize("script", [name.replace("-", "_") for name in SCRIPTS])
def test_every_option_shows_its_default(script: str) -> None:
    for parser in parsers_of(importlib.import_module(script).main):
        assert issubclass(parser.formatter_class, HelpFormatter), parser.prog
        shown = re.sub(r"\s+", "", parser.format_help())
        for action in parser._actions:
            said = "default" in (action.help or "")  # in words: "(default: the first active)"
            if action.default not in (None, False, "", argparse.SUPPRESS) and action.help != argparse.SUPPRESS and not said:
                assert re.sub(r"\s+", "", str(action.default)) in shown, (parser.prog, action.dest)


def test_the_emulators_help_shows_defaults_and_their_variables() -> None:
    done = subprocess.run([sys.executable, "-m", "emulator", "--help"], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{ROOT / 'actions'}"}, cwd=ROOT / "tests")
    shown = " ".join(done.stdout.split())
    for expected in ("port [EMULATOR_PORT] (default: 9080)", "[EMULATOR_WORKERS_PER_ACTION] (default: 4)",
                     "(default: in memory only, gone when the emulator stops) [EMULATOR_STATE]",
                     "(default: OpenWhisk's well-known guest key) [OW_AUTH]"):
        assert expected in shown
