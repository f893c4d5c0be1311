"""Cold starts for scripts/bench: a fresh worker process to its first result, per action.

Under two launchers, each speaking OpenWhisk's action protocol (result on fd 3, an ack first):
- the emulator's (`emulator.runtime.containers.default_command`), over the action staged as the
  emulator stages it, with the bytecode compiled at staging;
- OpenWhisk's own (apache/openwhisk-runtime-python, core/python3Action/lib/launcher.py), read at run
  time from the clone OPENWHISK_RUNTIME_PYTHON names (a work tree or a bare git directory; its code
  never enters this repository), over the action's zip from scripts/package, unpacked and laid out as
  the runtime's `compile` lays it out (`__main__.py` renamed `main__.py`, the launcher as `exec__.py`).
  The interpreter is the one the project's venv was made from, with `-S`: the action sees only the
  standard library and its zip; the .pth files of this machine's site-packages (one that imports
  certifi, here, costs 45 ms) are no part of a runtime image, whose own `site` costs a few ms.

The clock runs from the spawn to the first result line; staging or unpacking, done once, is left out.
"""
from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

LAUNCHER_PATH = "core/python3Action/lib/launcher.py"
EMULATOR, OPENWHISK = "emulator's launcher", "OpenWhisk's launcher, from its zip"


def openwhisk_launcher(clone: str) -> str | None:
    """The runtime's launcher.py from a clone (a work tree, or a bare git directory), None without one."""
    if not clone:
        return None
    work_tree = Path(clone) / LAUNCHER_PATH
    if work_tree.is_file():
        return work_tree.read_text()
    try:
        return subprocess.run(["git", "-C", clone, "show", f"HEAD:{LAUNCHER_PATH}"], capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def first_result_ms(command: list[str], folder: Path, message: dict[str, Any], timeout: float = 30.0) -> float:
    """Spawn `command` in `folder` as a worker, send `message` once it acks, and time the result."""
    from emulator.runtime.containers import on_fd3, worker_env

    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    proc = subprocess.Popen([*on_fd3(write_fd), *command], cwd=folder, env=worker_env(), stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(write_fd,))
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as results:
            for line_no in range(2):  # the ack, then the result
                if line_no:
                    assert proc.stdin is not None
                    proc.stdin.write(json.dumps(message).encode() + b"\n")
                    proc.stdin.flush()
                ready, _, _ = select.select([results], [], [], timeout)
                line = results.readline() if ready else b""
                if not line:
                    raise RuntimeError(f"{command[-1]} gave no {'result' if line_no else 'ack'}: "
                                       f"{proc.stderr.read(2000).decode(errors='replace') if proc.stderr else ''}")
            elapsed = (time.perf_counter() - started) * 1000
        result = json.loads(line)
        if "error" in result:
            raise RuntimeError(f"the first activation failed: {str(result)[:300]}")
        return elapsed
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stderr):
            if stream:
                stream.close()


def message_for(action: Any, params: dict[str, Any]) -> dict[str, Any]:
    """What a launcher reads per activation (the emulator's controller sends the same keys)."""
    return {"value": {**action.inputs, **params}, "action_name": f"/guest/{action.fqn}",
            "activation_id": secrets.token_hex(16), "namespace": "guest", "transaction_id": secrets.token_hex(16),
            "deadline": str(int((time.time() + action.timeout_ms / 1000) * 1000)), "api_host": "http://127.0.0.1:9",
            "action_version": action.version}


def emulator_layout(action: Any, root: Path, workdir: Path) -> tuple[Path, list[str]]:
    """The action staged as the emulator's pool stages it, and its worker command."""
    from emulator.runtime import staging
    from emulator.runtime.containers import default_command

    layout = staging.zip_layout(action, root)
    (workdir / "stage").mkdir(parents=True, exist_ok=True)
    folder = staging.stage(layout, workdir / "stage", action.fqn)
    pycache = workdir / "pycache"
    staging.write_bytecode(layout, pycache / folder.name)
    return folder, default_command(action.main, pycache=pycache)(folder)


def openwhisk_layout(zip_path: Path, launcher: str, main: str, workdir: Path) -> tuple[Path, list[str]]:
    """The zip unpacked as the runtime's `compile` prepares it, and the command its `exec` runs."""
    folder = workdir / "openwhisk" / zip_path.stem
    shutil.rmtree(folder, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    os.rename(folder / "__main__.py", folder / "main__.py")
    (folder / "exec__.py").write_text(launcher.replace("from main__ import main as main",
                                                      f"from main__ import {main} as main"))
    return folder, [getattr(sys, "_base_executable", sys.executable), "-S", "exec__.py"]


def cold_start_rows(manifest: Any, cases: dict[str, Callable[[], dict[str, Any]]], repeats: int, workdir: Path,
                    zips: Callable[[], dict[str, Path]] | None, launcher: str | None,
                    log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Per action and launcher, the cold start's milliseconds over `repeats` fresh processes (the two
    launchers alternate, so the machine's drift weighs on both)."""
    built = zips() if zips and launcher else {}
    rows = []
    for fqn, params in cases.items():
        action = manifest.find(fqn)
        layouts = {EMULATOR: emulator_layout(action, manifest.root, workdir / "emulator")}
        if built:
            layouts[OPENWHISK] = openwhisk_layout(built[action.name], launcher or "", action.main, workdir)
        times: dict[str, list[float]] = {name: [] for name in layouts}
        for _ in range(repeats):
            for name, (folder, command) in layouts.items():
                times[name].append(first_result_ms(command, folder, message_for(action, params())))
        for name, xs in times.items():
            rows.append({"launcher": name, "action": action.name, "times_ms": xs, "p50_ms": statistics.median(xs)})
            log(f"  cold start {action.name:<16} {name:<36} p50 {statistics.median(xs):6.1f} ms  min {min(xs):6.1f}")
    return rows
