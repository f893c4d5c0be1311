"""Every command of README.md and docs/*.md works as written (shell doctests; conventions in docblocks.py).

Each document runs in a fresh copy of the project, as a fresh clone: its blocks in order, in one
bash session, against a fresh emulator. The documents are discovered, so a new one is run too.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from customer_auth.settings import SETTINGS
from social_login import settings as social_login_settings  # noqa: F401 - its settings join the registry
from tests.conftest import ROOT, copy_project, free_port
from tests.docs.docblocks import PRELUDE, Checks, blocks, script

DOCUMENTS = [Path("README.md"), *sorted(p.relative_to(ROOT) for p in (ROOT / "docs").glob("*.md"))]
SHELL_ENVIRONMENT = ("STORE_URL", "CRYPT_KEY", "EMULATOR_", "OW_", "WSK_", "PYTHONPATH", *SETTINGS)


def reader_environment(**extra: str) -> dict[str, str]:
    """A reader's shell: none of the project's settings set (a developer's own shell may have some)."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(SHELL_ENVIRONMENT)}, **extra}


@pytest.mark.parametrize("document", DOCUMENTS, ids=str)
def test_every_command_runs_as_written(document: Path, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    port, provider_port, checks = free_port(), free_port(), Checks()
    run = tmp_path / "run.sh"
    run.write_text(script(blocks(project / document), port, checks, provider_port))
    env = reader_environment(EMULATOR_PORT=str(port), LOCAL_PROVIDER_PORT=str(provider_port),
                             __EMULATOR_LOG=str(tmp_path / "emulator.log"))
    proc = subprocess.Popen(["bash", str(run)], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=900)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever a failed run left behind (its emulator)
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, f"{document}: a command failed\n{output[-6000:]}"
    assert_checks(project, checks)


def assert_checks(project: Path, checks: Checks) -> None:
    """What the blocks not run ask of the project: bash syntax, the scripts' options, the test paths."""
    for where, text in checks.syntax:
        done = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
        assert done.returncode == 0, f"{where}: {done.stderr}"
    for (name, *subcommand), options in checks.options.items():
        listed = ""
        for words in {(), tuple(subcommand)}:  # a command's options, and the script's own before it
            done = subprocess.run([f"./scripts/{name}", *words, "--help"], cwd=project, capture_output=True,
                                  text=True, env=reader_environment(), timeout=120)
            assert done.returncode == 0, f"./scripts/{name} {' '.join(words)} --help: {done.stderr}"
            listed += done.stdout
        unknown = sorted(o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", listed))
        assert unknown == [], f"./scripts/{name} {' '.join(subcommand)} has no option {', '.join(unknown)}"
    for where, path in checks.paths:
        assert (project / path).exists(), f"{where}: no {path}"


def test_the_conventions_hold_on_a_sample(tmp_path: Path) -> None:
    """The runner itself: blocks in order in one session, `# exits N`, `# needs`, the port rewritten."""
    sample = tmp_path / "sample.md"
    sample.write_text("Text.\n\n```sh\nX=1\ncurl -s http://127.0.0.1:9080/x \\\n  -d y\n```\n\n"
                      "```json\n{\"not\": \"run\"}\n```\n\n```sh\n# needs a remote OpenWhisk\n"
                      "./scripts/deploy --apihost https://ow.example --auth \"$WSK_AUTH\"\n```\n\n"
                      "```sh\nfalse  # exits 1\n./scripts/test tests/docs\n```\n\n"
                      "```sh\n./scripts/local-provider &  # http://localhost:9081\n```\n")
    checks = Checks()
    text = script(blocks(sample), 9141, checks, 9142)
    assert "\ncurl -s http://127.0.0.1:9141/x -d y\n" in text and '{"not"' not in text
    assert "\n./scripts/local-provider &  # http://127.0.0.1:9142\n" in text
    assert "\n__exits 1 sample.md:19 false\n" in text and "\n__emulate\n" in text
    assert checks.options == {("deploy",): {"--apihost", "--auth"}} and checks.paths == [("sample.md:20", "tests/docs")]
    assert [where for where, _ in checks.syntax] == ["sample.md:14"]


def test_the_runner_ends_what_a_block_left_in_the_background() -> None:
    """`./scripts/local-provider &` outlives its block; the session's end stops it, or the run never ends."""
    done = subprocess.run(["bash", "-c", PRELUDE + "sleep 300 &\necho started\n"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0 and done.stdout == "started\n"
