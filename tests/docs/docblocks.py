"""The shell blocks of a markdown document, and the bash script that runs them as a reader would.

The conventions (README.md's "Commands in these docs" states them for writers):
- Blocks fenced as `sh`, `bash` or `shell` are commands; in a `console` block, the lines starting with
  `$ `. Other blocks (json, text, yaml, none) are shown, not run.
- A document's blocks run in order in one bash session (`set -e`), in a fresh copy of the project:
  variables and the working folder carry over from one block to the next, as in one terminal.
- A `./scripts/emulate` line starts the emulator as a terminal of its own would: in the background,
  waited for until it serves; a block that starts it again first stops the running one (Ctrl-C in
  that terminal). A document whose first block does not start it runs against one started fresh
  before that block. The docs say port 9080, the default; the emulator runs on a free port and the commands'
  `127.0.0.1:9080` / `localhost:9080` are rewritten to it (and `scripts/local-provider`'s 9081 likewise,
  through LOCAL_PROVIDER_PORT).
- A command ending in `# exits N` must exit with N (a refusal shown on purpose). `curl` fails on an
  HTTP error status (`--fail-with-body`), so an example that stopped working fails too.
- A block whose first line starts with `# needs ` (a remote OpenWhisk, a browser, a database of your
  own) is not run: bash checks its syntax, and every option it gives a `./scripts/...` command must be
  one that command's `--help` lists. `./scripts/test` and `./scripts/bench` lines (the suite itself,
  and minutes of load) are checked the same way, and the test paths they name must exist.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

RUN_LANGUAGES = ("sh", "bash", "shell")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
EMULATE = re.compile(r"^\./scripts/emulate\b(?!.*--help)(.*?)\s*&?\s*(#.*)?$")
CHECKED_ONLY = re.compile(r"^\./scripts/(test|bench)\b")
EXITS = re.compile(r"\s+#\s*exits (\d+)\b.*$")
SUBCOMMANDS = ("integration", "store")  # the scripts whose first word names a command
PORT = re.compile(r"\b(?:127\.0\.0\.1|localhost):9080\b")
PROVIDER_PORT = re.compile(r"\b(?:127\.0\.0\.1|localhost):9081\b")  # scripts/local-provider's default


@dataclass
class Block:
    document: Path
    line: int  # where its first command line is, 1-based
    lines: list[str]
    language: str

    @property
    def where(self) -> str:
        return f"{self.document.name}:{self.line}"

    @property
    def needs(self) -> str | None:
        """What a `# needs ...` block needs, or None for a block that runs."""
        first = next((line.strip() for line in self.lines if line.strip()), "")
        return first[len("# needs "):] if first.startswith("# needs ") else None

    def commands(self) -> list[tuple[int, str]]:
        """(line number, logical command line): continuation lines joined, blank and comment lines left out."""
        out: list[tuple[int, str]] = []
        pending, start = "", 0
        for offset, raw in enumerate(self.lines):
            if not pending:
                start = self.line + offset
                if not raw.strip() or raw.lstrip().startswith("#"):
                    continue
            if raw.rstrip().endswith("\\"):
                pending += raw.strip()[:-1].strip() + " "
                continue
            out.append((start, pending + raw.strip()))
            pending = ""
        return out


@dataclass
class Checks:
    """What a document asks of the copy without running it: options each script must list, paths that
    must exist, syntax bash must accept."""

    options: dict[tuple[str, ...], set[str]] = field(default_factory=dict)  # (script, subcommand?) -> options
    paths: list[tuple[str, str]] = field(default_factory=list)  # (where, test path)
    syntax: list[tuple[str, str]] = field(default_factory=list)  # (where, block text)

    def command(self, where: str, command: str) -> None:
        try:
            words = shlex.split(command, comments=True)
        except ValueError:
            return  # bash -n reports it
        for i, word in enumerate(words):
            if not word.startswith("./scripts/"):
                continue
            script = word[len("./scripts/"):]
            rest = words[i + 1:]
            if script == "test":
                self.paths += [(where, arg.split("::")[0]) for arg in rest if arg.startswith("tests")]
                continue
            key: tuple[str, ...] = (script,)
            subcommand = next((w for w in rest if re.fullmatch(r"[a-z][a-z-]*", w)), None)
            if subcommand and script in SUBCOMMANDS:
                key = (script, subcommand)
            self.options.setdefault(key, set()).update(
                arg.split("=")[0] for arg in rest if arg.startswith("--") and len(arg) > 2)


def blocks(document: Path) -> list[Block]:
    """Every fenced block of `document` that holds commands, in order."""
    found: list[Block] = []
    lines = document.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        indent, marker, language = fence.group(1), fence.group(2), fence.group(3).lower()
        body: list[str] = []
        i += 1
        start = i + 1
        while i < len(lines) and not lines[i].strip().startswith(marker):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        i += 1
        if language in RUN_LANGUAGES:
            found.append(Block(document, start, body, language))
        elif language == "console":
            found.append(Block(document, start, [b[2:] if b.startswith("$ ") else "" for b in body], "sh"))
    return found


PRELUDE = r'''
set -eo pipefail
__EMULATOR_PID=""
__emulate() {
  __stop_emulator
  ./scripts/emulate "$@" > "$__EMULATOR_LOG" 2>&1 &
  __EMULATOR_PID=$!
  for _ in $(seq 1200); do
    grep -q '^activations ' "$__EMULATOR_LOG" && command curl -s -o /dev/null "http://127.0.0.1:$EMULATOR_PORT/api/v1" && return 0
    if ! kill -0 "$__EMULATOR_PID" 2>/dev/null; then
      echo "the emulator did not start:" >&2; cat "$__EMULATOR_LOG" >&2; return 1
    fi
    sleep 0.1
  done
  echo "the emulator did not answer within 120 s:" >&2; cat "$__EMULATOR_LOG" >&2; return 1
}
__stop_emulator() {
  if [ -n "$__EMULATOR_PID" ]; then
    kill -TERM "$__EMULATOR_PID" 2>/dev/null || true
    wait "$__EMULATOR_PID" 2>/dev/null || true
    __EMULATOR_PID=""
  fi
}
__exits() {
  local want="$1" where="$2"; shift 2
  set +e; ( eval "$@" ); local got=$?; set -e
  if [ "$got" != "$want" ]; then echo "$where: exited $got where the docs say $want" >&2; return 1; fi
}
__finish() {  # the emulator, and what a block left running in the background (`./scripts/local-provider &`)
  __stop_emulator
  local left; left=$(jobs -p)
  if [ -n "$left" ]; then kill -TERM $left 2>/dev/null || true; fi
}
curl() { command curl --fail-with-body "$@"; }
trap __finish EXIT
trap 'echo "failed at $__WHERE: $BASH_COMMAND" >&2' ERR
'''


def script(document_blocks: list[Block], port: int, checks: Checks, provider_port: int) -> str:
    """The bash script that runs the blocks that run (and collects what the others are checked for)."""
    running = [b for b in document_blocks if b.needs is None]
    starts_its_own = bool(running) and any(EMULATE.match(c) for _, c in running[0].commands())
    out = [PRELUDE]
    if not starts_its_own:
        out.append("__WHERE='a fresh emulator'\n__emulate")
    for block in document_blocks:
        if block.needs is not None:
            checks.syntax.append((block.where, "\n".join(block.lines)))
            for line, command in block.commands():
                checks.command(f"{block.document.name}:{line}", command)
            continue
        commands = block.commands()
        if any(EMULATE.match(c) for _, c in commands):
            out.append("__stop_emulator  # Ctrl-C in the emulator's terminal")
        for line, command in commands:
            where = f"{block.document.name}:{line}"
            command = PROVIDER_PORT.sub(f"127.0.0.1:{provider_port}", PORT.sub(f"127.0.0.1:{port}", command))
            out.append(f"__WHERE={shlex.quote(where)}")
            out.append(f"echo {shlex.quote('$ ' + command)}")
            emulate = EMULATE.match(command)
            exits = EXITS.search(command)
            if emulate:
                out.append(f"__emulate {emulate.group(1).strip()}")
            elif CHECKED_ONLY.match(command):
                out.append("echo '(checked, not run)'")
                checks.command(where, command)
            elif exits:
                out.append(f"__exits {exits.group(1)} {shlex.quote(where)} {shlex.quote(command[:exits.start()])}")
            else:
                out.append(command)
    return "\n".join(out) + "\n"
