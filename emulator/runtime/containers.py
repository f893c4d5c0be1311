"""One warm worker process: OpenWhisk's container, minus Docker.

The worker runs the launcher in the staged action folder with a scrubbed environment (PATH, LANG,
LC_ALL and HOME only: settings reach actions as params, as in OpenWhisk). The result comes back on
fd 3; stdout and stderr are read line by line, stamped, and cut at the end-of-activation sentinels.
Like the invoker, this class turns a timeout, a dead process or a bad result into the developer
error messages OpenWhisk uses, and a worker that failed is never reused.
"""
from __future__ import annotations

import json
import os
import selectors
import shutil
import site
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from customer_auth.printable import printable

LAUNCHER = Path(__file__).with_name("launcher.py")
SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
HOST_ENV_KEPT = ("PATH", "LANG", "LC_ALL", "HOME")
MAX_RESULT_BYTES = 1024 * 1024

# Wording from OpenWhisk (core/.../http/ErrorResponse.scala, Messages) and the action proxy.
ABNORMAL_INIT = "The action did not initialize and exited unexpectedly."
ABNORMAL_RUN = "The action did not produce a valid response and exited unexpectedly."
NOT_A_DICT = "The action did not return a dictionary."
LOG_WARNING_DEVELOPER_ERROR = "The action did not initialize or run as expected. Log data might be missing."


_TRAMPOLINE = (
    "import os, sys\n"
    "fd = int(sys.argv[1])\n"
    "if fd != 3:\n    os.dup2(fd, 3)\n    os.close(fd)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)
# The same move done by bash (about 3 ms instead of a second interpreter start, about 10 ms); dash
# cannot name descriptors above 9, so without bash the Python trampoline remains. Bash exports PWD
# and SHLVL of its own: they are taken out, so the worker's environment is still exactly ours.
_SEARCH = os.defpath + ":/bin:/usr/bin"
_BASH, _ENV = shutil.which("bash", path=_SEARCH), shutil.which("env", path=_SEARCH)


def on_fd3(fd: int) -> list[str]:
    """The argv prefix that runs a command with `fd` as its fd 3, the protocol's result channel."""
    if _BASH and _ENV:
        script = f'unset PWD OLDPWD; exec "$0" -u SHLVL "$@" 3>&{fd} {fd}>&-'
        return [_BASH, "--noprofile", "--norc", "-c", script, _ENV]
    return [sys.executable, "-S", "-c", _TRAMPOLINE, str(fd)]


# Manifest actions run on the emulator's interpreter and its installed packages. `site` would find
# them too but costs about 20 ms per worker start (the venv's .pth files, the editable install's
# finder); `-S` plus the folders it would have added is the same sys.path without that. The
# `import` lines of .pth files are not run: an action imports what its zip carries and what is installed.
# The staged modules' bytecode, compiled once by the emulator (`staging.write_bytecode`), is read
# from argv[1] for files below the action folder, if it still matches the source's mtime and size.
_BOOT = """\
import marshal, os, sys, _imp
from importlib import machinery as _m
from importlib.util import MAGIC_NUMBER as _MAGIC
n = sys.argv.index('--')
_pyc, _root = sys.argv[1], os.getcwd()
sys.path += sys.argv[2:n]
sys.argv = sys.argv[n + 1:]


class _Loader(_m.SourceFileLoader):
    def get_code(self, fullname):
        path = self.get_filename(fullname)
        try:
            with open(os.path.join(_pyc, os.path.relpath(path, _root)) + 'c', 'rb') as f:
                data = f.read()
            st = os.stat(path)
            if data[:4] == _MAGIC and data[8:16] == (
                    (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, 'little') + (st.st_size & 0xFFFFFFFF).to_bytes(4, 'little')):
                code = marshal.loads(memoryview(data)[16:])
                _imp._fix_co_filename(code, path)
                return code
        except (OSError, ValueError, EOFError, TypeError):
            pass
        return super().get_code(fullname)


def _hook(path, _loaders=[(_m.ExtensionFileLoader, _m.EXTENSION_SUFFIXES), (_Loader, _m.SOURCE_SUFFIXES),
                          (_m.SourcelessFileLoader, _m.BYTECODE_SUFFIXES)]):
    if path != _root and not path.startswith(_root + os.sep):
        raise ImportError('not in the action folder')
    return _m.FileFinder(path, *_loaders)


if _pyc:
    sys.path_hooks.insert(0, _hook)
__file__ = sys.argv[0]
with open(__file__, 'rb') as f:
    code = compile(f.read(), __file__, 'exec')
del n, f
exec(code)
"""


def worker_env() -> dict[str, str]:
    """A worker's whole environment: the host's PATH, LANG, LC_ALL and HOME, and the protocol's own."""
    env = {k: os.environ[k] for k in HOST_ENV_KEPT if k in os.environ}
    env.update(PYTHONIOENCODING="UTF-8", PYTHONDONTWRITEBYTECODE="1", __OW_WAIT_FOR_ACK="1")
    return env


def site_paths() -> list[str]:
    """What `site` adds to sys.path for this interpreter: the user and global site-packages that
    exist, then the folder lines of their .pth files (in site's order)."""
    dirs = []
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    dirs += site.getsitepackages()
    out: list[str] = []
    for d in dirs:
        if not os.path.isdir(d) or d in out:
            continue
        out.append(d)
        try:
            names = sorted(n for n in os.listdir(d) if n.endswith(".pth") and not n.startswith("."))
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:
                line = line.rstrip()
                if not line or line.startswith(("#", "import ", "import\t")):
                    continue
                path = os.path.abspath(os.path.join(d, line))
                if os.path.isdir(path) and path not in out:
                    out.append(path)
    return out


def timed_out(timeout_ms: int, init: bool = False) -> str:
    suffix = " during initialization." if init else "."
    return f"The action exceeded its time limits of {timeout_ms} milliseconds{suffix}"


def truncated(size: int) -> str:
    return f"The action produced a response that exceeded the allowed length: {size} > {MAX_RESULT_BYTES} bytes."


@dataclass
class RunOutcome:
    """What one activation produced: `result` plus whether it was a developer error (status 2)."""

    result: dict[str, Any]
    developer_error: bool
    logs: list[str] = field(default_factory=list)
    worker_ok: bool = True  # False: the worker must be discarded


Command = Callable[[Path], list[str]]


def default_command(main: str = "main", isolated: bool = False, pycache: Path | None = None) -> Command:
    """Our launcher, run with the interpreter the emulator runs on.

    `isolated` (deployed actions): `-I -S`, so neither the environment, the user's site nor the
    emulator's venv site-packages reach sys.path: the action sees its folder, its zip's virtualenv
    (once activate_this.py ran) and the standard library, as in the runtime's container.
    `pycache`: where the staged modules' bytecode is written (`staging.write_bytecode`), a folder
    per staged folder.
    """
    if isolated:
        return lambda folder: [sys.executable, "-I", "-S", str(LAUNCHER), main]
    paths = site_paths()

    def build(folder: Path) -> list[str]:
        pyc = str(pycache / folder.name) if pycache is not None else ""
        return [sys.executable, "-S", "-c", _BOOT, pyc, *paths, "--", str(LAUNCHER), main]
    return build


def format_log(when: float, stream: str, text: str) -> str:
    """OpenWhisk's log line: time padded to 30 columns, stream, text (LogLine.toFormattedString). The
    text's control characters are escaped: an action may print request text, and `wsk activation
    logs` shows the line in a terminal."""
    stamp = datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp:<30} {stream}: {printable(text.rstrip())}"


class Worker:
    """A launcher process serving one activation at a time; `run` never raises for action faults.

    No reader threads: the thread running an activation reads the result channel, stdout and stderr
    itself, with one selector over the three pipes, until it has the result line and both sentinels.
    Handing each line from a reader thread to the waiting one cost a GIL hand-off per line (up to the
    5 ms switch interval under load); reading in place costs a few system calls.
    """

    def __init__(self, folder: Path, command: Command, clock: Callable[[], float], sentinels: bool = True) -> None:
        self.folder = folder
        self._command = command
        self._clock = clock
        self._sentinels = sentinels
        self._lines: list[str] = []
        self._ended = {"stdout": False, "stderr": False}
        self._results: deque[bytes | None] = deque()
        self._names: dict[int, str] = {}
        self._partial: dict[int, bytes] = {}
        self._selector: selectors.BaseSelector | None = None
        self._result_fd = -1
        self._pipes_lock = threading.Lock()  # a kill from another thread and the run's own end both close them
        self._busy = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.version: object = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ------------------------------------------------------------------------------ lifecycle

    def start(self, timeout_ms: int) -> RunOutcome | None:
        """Start the process and wait for the launcher's ack; an init failure comes back as an outcome."""
        read_fd, write_fd = os.pipe()
        env = worker_env()
        # The protocol fixes the result channel at fd 3: a trampoline moves our pipe there, then
        # execs the worker (same pid). subprocess cannot map fds, and preexec_fn is unsafe with threads.
        argv = [*on_fd3(write_fd), *self._command(self.folder)]
        try:
            self.proc = subprocess.Popen(
                argv, cwd=self.folder, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, pass_fds=(write_fd,), start_new_session=True,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._selector = selectors.DefaultSelector()
        self._result_fd = read_fd
        self._names = {read_fd: "result", self.proc.stdout.fileno(): "stdout", self.proc.stderr.fileno(): "stderr"}
        for fd in self._names:
            os.set_blocking(fd, False)
            self._selector.register(fd, selectors.EVENT_READ)
        self._busy = True
        try:
            ack = self._next_result(time.monotonic() + timeout_ms / 1000)
        finally:
            self._busy = False
            if not self.alive():
                self._close_pipes()
        if ack is _TIMEOUT:
            return self._fail(timed_out(timeout_ms, init=True))
        if ack is None:
            return self._fail(ABNORMAL_INIT)
        return None

    def kill(self) -> None:
        """Kill the process (and anything it spawned) and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
            pass
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if not self._busy:  # a running activation still reads the pipes: it closes them when it ends
            self._close_pipes()

    def _close_pipes(self) -> None:
        """Close the result pipe and the output streams, once: the first caller takes them (a second
        os.close of the result fd would fail, or close whatever file reused its number)."""
        with self._pipes_lock:
            selector, self._selector = self._selector, None
        if selector is None:
            return
        selector.close()
        os.close(self._result_fd)
        assert self.proc is not None
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    # ------------------------------------------------------------------------------ activation

    def run(self, message: dict[str, Any], timeout_ms: int) -> RunOutcome:
        """Send one activation and wait for its result, its logs, or the end of its time."""
        assert self.proc is not None and self.proc.stdin is not None
        self._busy = True
        try:
            return self._run(message, timeout_ms)
        finally:
            self._busy = False
            if not self.alive():
                self._close_pipes()

    def _run(self, message: dict[str, Any], timeout_ms: int) -> RunOutcome:
        assert self.proc is not None and self.proc.stdin is not None
        self._ended = {"stdout": False, "stderr": False}
        deadline = time.monotonic() + timeout_ms / 1000
        try:
            self.proc.stdin.write(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return self._fail(ABNORMAL_RUN)
        line = self._next_result(deadline)
        if line is _TIMEOUT:
            return self._fail(timed_out(timeout_ms))
        if line is None:
            return self._fail(ABNORMAL_RUN)
        self._wait_for_log_end()
        logs = self._take_logs()
        if len(line) > MAX_RESULT_BYTES:
            return RunOutcome({"error": truncated(len(line))}, True, logs)
        try:
            result = json.loads(line)
        except ValueError:
            return RunOutcome({"error": ABNORMAL_RUN}, True, logs, worker_ok=False)
        if not isinstance(result, dict):  # the real launcher leaves this check to the proxy
            return RunOutcome({"error": NOT_A_DICT}, True, logs)
        # Our launcher reports a non-dict itself, with the proxy's words: still a developer error.
        return RunOutcome(result, result == {"error": NOT_A_DICT}, logs)

    def _fail(self, message: str) -> RunOutcome:
        self.kill()
        self._drain(time.monotonic() + 0.2)  # what the dead process wrote before it went
        logs = self._take_logs()
        logs.append(format_log(self._clock(), "stderr", LOG_WARNING_DEVELOPER_ERROR))
        return RunOutcome({"error": message}, True, logs, worker_ok=False)

    def _wait_for_log_end(self) -> None:
        if not self._sentinels:  # the proxy's sentinels never come: give late lines a moment
            self._drain(time.monotonic() + 0.05)
            return
        deadline = time.monotonic() + 2.0
        while not all(self._ended.values()) and self._pump(deadline):
            pass

    def _take_logs(self) -> list[str]:
        lines, self._lines = self._lines, []
        return lines

    # ------------------------------------------------------------------------------ reading

    def _next_result(self, deadline: float) -> bytes | None | object:
        """The next line of the result channel, None at its end, _TIMEOUT past `deadline`."""
        while not self._results:
            if not self._pump(deadline):
                return self._results.popleft() if self._results else _TIMEOUT
        return self._results.popleft()

    def _drain(self, deadline: float) -> None:
        while self._pump(deadline):
            pass

    def _pump(self, deadline: float) -> bool:
        """Read whatever the pipes hold, waiting until `deadline` for some; False once it has passed
        (or nothing is left to read)."""
        if self._selector is None or not self._selector.get_map():  # every pipe has ended
            if not self._results:
                self._results.append(None)
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        for key, _ in self._selector.select(remaining):
            self._read(key.fd)
        return True

    def _read(self, fd: int) -> None:
        name = self._names[fd]
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        data = self._partial.pop(fd, b"") + chunk
        if not chunk:  # end of the stream: what is left is its last line
            assert self._selector is not None
            self._selector.unregister(fd)
            if data:
                self._line(name, data)
            if name == "result":
                self._results.append(None)
            else:
                self._ended[name] = True
            return
        *lines, rest = data.split(b"\n")
        if rest:
            self._partial[fd] = rest
        for raw in lines:
            self._line(name, raw + b"\n" if name == "result" else raw)

    def _line(self, name: str, raw: bytes) -> None:
        if name == "result":
            self._results.append(raw)
            return
        text = raw.decode("utf-8", errors="replace").rstrip("\n")
        if text == SENTINEL:
            self._ended[name] = True
            return
        self._lines.append(format_log(self._clock(), name, text))


_TIMEOUT = object()
