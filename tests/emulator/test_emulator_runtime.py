"""Workers: the launcher protocol, warm reuse, parallel workers, timeouts, crashes, reload."""
from __future__ import annotations

import gc
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.emulator.conftest import FIXTURES, SECRET
from emulator.activations import APPLICATION_ERROR, DEVELOPER_ERROR, SUCCESS
from emulator.runtime import pool, staging
from emulator.runtime.containers import Worker
from emulator.runtime.watch import FolderWatch

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z {4}(stdout|stderr): ")


def test_params_defaults_and_ow_environment(controller) -> None:
    act = controller.invoke("demo/echo", {"SHARED": "caller", "x": 1})
    assert act.response.status_code == SUCCESS
    result = act.response.result
    # action inputs over package inputs, caller params over both
    assert result["params"] == {"PKG_SETTING": "from-package", "SHARED": "caller", "API_SECRET": SECRET, "x": 1}
    env = result["env"]
    assert env["__OW_ACTIVATION_ID"] == act.activation_id
    assert env["__OW_ACTION_NAME"] == "/guest/demo/echo"
    assert env["__OW_NAMESPACE"] == "guest"
    assert int(env["__OW_DEADLINE"]) > time.time() * 1000
    assert re.fullmatch(r"[0-9a-f]{32}", act.activation_id)


def test_host_environment_does_not_leak(controller, monkeypatch) -> None:
    monkeypatch.setenv("HOST_ONLY_SETTING", "leak")
    env = controller.invoke("demo/echo", {}).response.result["env"]
    assert "HOST_ONLY_SETTING" not in env
    allowed = {"PATH", "LANG", "LC_ALL", "HOME", "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE"}
    assert {k for k in env if not k.startswith("__OW_")} <= allowed


def test_staged_like_a_zip(controller) -> None:
    result = controller.invoke("demo/echo", {}).response.result
    cwd = Path(result["cwd"])
    assert (cwd / "__main__.py").resolve() == FIXTURES / "echo" / "__main__.py"
    assert sorted(p.name for p in cwd.iterdir()) == ["__main__.py"]
    # include: files below the glob's static prefix land under the destination folder
    assert controller.invoke("demo/uses-lib", {"name": "zip"}).response.result == {"greeting": "hello zip"}


def test_warm_worker_is_reused(controller) -> None:
    first = controller.invoke("demo/echo", {})
    second = controller.invoke("demo/echo", {})
    assert first.response.result["pid"] == second.response.result["pid"]
    assert second.response.result["calls"] == 2  # module state survived, as in a warm container
    assert first.annotation("initTime") is not None and second.annotation("initTime") is None


def test_overlapping_activations_get_their_own_workers(make_controller) -> None:
    controller = make_controller(workers_per_action=2)
    results = []

    def call() -> None:
        results.append(controller.invoke("demo/sleep", {"seconds": 0.4}))

    threads = [threading.Thread(target=call) for _ in range(3)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert all(a.response.status_code == SUCCESS for a in results)
    assert len({a.response.result["pid"] for a in results}) == 2  # at most two workers
    assert 0.75 < elapsed < 2.5  # two in parallel, the third waited for a free worker
    assert max(a.annotation("waitTime") for a in results) >= 300
    assert controller.worker_count("demo/sleep") == 2


def test_timeout_kills_and_replaces_the_worker(controller) -> None:
    warm = controller.invoke("demo/sleep", {"seconds": 0})
    started = time.monotonic()
    act = controller.invoke("demo/sleep", {"seconds": 10})
    assert time.monotonic() - started < 3
    assert act.response.status_code == DEVELOPER_ERROR
    assert act.response.status == "action developer error"
    assert act.response.result == {"error": "The action exceeded its time limits of 1000 milliseconds."}
    assert act.annotation("timeout") is True
    assert any("stdout: going to sleep" in line for line in act.logs)
    pid = warm.response.result["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    again = controller.invoke("demo/sleep", {"seconds": 0})
    assert again.response.status_code == SUCCESS and again.response.result["pid"] != pid


def test_crash_is_a_developer_error_and_the_emulator_lives_on(controller) -> None:
    act = controller.invoke("demo/exits", {})
    assert act.response.status_code == DEVELOPER_ERROR
    assert act.response.result == {"error": "The action did not produce a valid response and exited unexpectedly."}
    assert any("stdout: about to die" in line for line in act.logs)
    assert any("stderr: really" in line for line in act.logs)
    assert controller.invoke("demo/echo", {}).response.status_code == SUCCESS
    assert controller.invoke("demo/exits", {}).response.status_code == DEVELOPER_ERROR  # replaced, fails again


def test_exception_is_an_application_error_with_traceback_in_logs(controller) -> None:
    act = controller.invoke("demo/raises", {"why": "testing"})
    assert act.response.status_code == APPLICATION_ERROR
    assert act.response.to_dict() == {"status": "application error", "success": False,
                                      "result": {"error": "boom: testing"}}
    assert any("stderr: Traceback (most recent call last):" in line for line in act.logs)
    assert any("ValueError: boom: testing" in line for line in act.logs)


def test_non_dict_result(controller) -> None:
    act = controller.invoke("demo/nondict", {})
    assert act.response.status_code == DEVELOPER_ERROR
    assert act.response.result == {"error": "The action did not return a dictionary."}


def test_import_failure_is_an_init_error(controller) -> None:
    act = controller.invoke("demo/broken-import", {})
    assert act.response.status_code == DEVELOPER_ERROR
    assert act.response.result == {"error": "The action did not initialize and exited unexpectedly."}
    assert any("RuntimeError: cannot import me" in line for line in act.logs)


def test_logs_are_captured_per_activation_in_openwhisk_format(controller) -> None:
    first = controller.invoke("demo/prints", {})
    second = controller.invoke("demo/prints", {})
    for act in (first, second):
        assert all(LOG_LINE.match(line) for line in act.logs), act.logs
        assert sum("hello on stdout" in line for line in act.logs) == 1
        assert any(line.endswith("stderr: hello on stderr") for line in act.logs)


def test_reload_when_a_source_file_changes(make_controller, tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "fx")
    controller = make_controller(tmp_path / "fx" / "app.config.yaml")
    lib = tmp_path / "fx" / "shared_lib" / "greet" / "__init__.py"
    first = controller.invoke("demo/uses-lib", {"name": "a"})
    assert first.response.result == {"greeting": "hello a"}
    lib.write_text("def greet(name):\n    return f'bonjour {name}'\n")
    os.utime(lib, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert controller.invoke("demo/uses-lib", {"name": "a"}).response.result == {"greeting": "bonjour a"}
    assert controller.worker_count("demo/uses-lib") == 1  # the old worker was retired


def test_restage_when_an_included_file_is_added(make_controller, tmp_path: Path) -> None:
    """The pool skips globbing while no watched folder or file changed: a new file still shows."""
    shutil.copytree(FIXTURES, tmp_path / "fx")
    controller = make_controller(tmp_path / "fx" / "app.config.yaml")
    greet = tmp_path / "fx" / "shared_lib" / "greet"
    assert controller.invoke("demo/uses-lib", {"name": "a"}).response.result == {"greeting": "hello a"}
    (greet / "words.py").write_text("WORD = 'salut'\n")
    (greet / "__init__.py").write_text("from .words import WORD\n\n\ndef greet(name):\n    return f'{WORD} {name}'\n")
    later = time.time_ns() + 10**9
    os.utime(greet / "__init__.py", ns=(later, later))
    assert controller.invoke("demo/uses-lib", {"name": "a"}).response.result == {"greeting": "salut a"}
    (greet / "more.py").write_text("X = 1\n")  # only the folder changed
    controller.invoke("demo/uses-lib", {"name": "a"})
    assert (controller._pools["demo/uses-lib"]._folder / "shared_lib" / "greet" / "more.py").exists()


def test_a_folder_watch_reports_changes_once(tmp_path: Path) -> None:
    watch = FolderWatch.open([str(tmp_path)])
    assert watch is not None  # Linux: inotify
    try:
        assert watch.changed() is False
        (tmp_path / "new.py").write_text("X = 1\n")
        assert watch.changed() is True
        assert watch.changed() is False  # the events were consumed
    finally:
        watch.close()
    assert watch.changed() is True  # closed: it can no longer vouch for anything
    assert FolderWatch.open([str(tmp_path / "missing")]) is None


def test_a_dropped_folder_watch_closes_its_descriptor(tmp_path: Path) -> None:
    """A pool dropped without shutdown must not leak an inotify descriptor per restage."""
    def inotify_fds() -> set[str]:
        return {fd for fd in os.listdir("/proc/self/fd") if "inotify" in os.path.realpath(f"/proc/self/fd/{fd}")}

    before = inotify_fds()
    watch = FolderWatch.open([str(tmp_path)])
    assert watch is not None and len(inotify_fds() - before) == 1
    del watch
    gc.collect()
    assert inotify_fds() - before == set()
    closed = FolderWatch.open([str(tmp_path)])
    closed.close()
    closed.close()  # twice is harmless: the descriptor is closed once
    del closed
    gc.collect()
    assert inotify_fds() - before == set()


def test_the_pool_looks_at_the_files_only_after_a_change_notice(make_controller, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "STAT_EVERY", 60.0)
    shutil.copytree(FIXTURES, tmp_path / "fx")
    controller = make_controller(tmp_path / "fx" / "app.config.yaml")
    assert controller.invoke("demo/uses-lib", {"name": "a"}).response.result == {"greeting": "hello a"}
    looks: list[object] = []
    real = staging.unchanged
    monkeypatch.setattr(staging, "unchanged", lambda snap: looks.append(snap) or real(snap))
    controller.invoke("demo/uses-lib", {"name": "a"})
    assert looks == []
    (tmp_path / "fx" / "shared_lib" / "greet" / "notes.txt").write_text("a file beside the code\n")
    assert controller.invoke("demo/uses-lib", {"name": "a"}).response.result == {"greeting": "hello a"}
    assert len(looks) == 1


@pytest.mark.parametrize("stat_every, seen", [(0.0, True), (60.0, False)])
def test_a_source_edited_through_a_symlink_is_seen_by_the_stats(make_controller, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               stat_every: float, seen: bool) -> None:
    """No inotify event comes for a symlink's target in an unwatched folder: within STAT_EVERY of the
    last comparison the old code still runs, after it the stats show the edit."""
    monkeypatch.setattr(pool, "STAT_EVERY", stat_every)
    shutil.copytree(FIXTURES, tmp_path / "fx")
    lib, target = tmp_path / "fx" / "shared_lib" / "greet" / "__init__.py", tmp_path / "elsewhere" / "greet.py"
    target.parent.mkdir()
    shutil.move(lib, target)
    lib.symlink_to(target)
    controller = make_controller(tmp_path / "fx" / "app.config.yaml")
    assert controller.invoke("demo/uses-lib", {"name": "a"}).response.result == {"greeting": "hello a"}
    target.write_text("def greet(name):\n    return f'bonjour {name}'\n")
    os.utime(target, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    greeting = controller.invoke("demo/uses-lib", {"name": "a"}).response.result["greeting"]
    assert greeting == ("bonjour a" if seen else "hello a")


def test_staged_bytecode_is_not_used_once_the_source_changed(make_controller, tmp_path: Path) -> None:
    """Bytecode compiled at staging is checked against the source's mtime and size by the worker."""
    shutil.copytree(FIXTURES, tmp_path / "fx")
    controller = make_controller(tmp_path / "fx" / "app.config.yaml")
    lib = tmp_path / "fx" / "shared_lib" / "greet" / "__init__.py"
    assert controller.invoke("demo/uses-lib", {"name": "a"}).response.result == {"greeting": "hello a"}
    pool = controller._pools["demo/uses-lib"]
    pyc = pool._pycache / pool._folder.name / "shared_lib" / "greet" / "__init__.pyc"
    assert pyc.exists()
    # Edited behind the pool's back (its snapshot still matches): a new worker compiles the source.
    stat = lib.stat()
    lib.write_text("def greet(name):\n    return f'hallo {name}'\n")
    os.utime(lib, ns=(stat.st_mtime_ns + 2 * 10**9, stat.st_mtime_ns + 2 * 10**9))
    pool._refresh = lambda: None  # no restage: only the worker's check stands between
    for w in list(pool._idle):
        w.kill()
    pool._idle.clear()
    pool._count = 0
    assert controller.invoke("demo/uses-lib", {"name": "a"}).response.result == {"greeting": "hallo a"}


def test_shutdown_kills_workers(make_controller) -> None:
    controller = make_controller()
    pid = controller.invoke("demo/echo", {}).response.result["pid"]
    controller.shutdown()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_worker_killed_from_two_threads_at_once_closes_its_pipes_once(tmp_path: Path) -> None:
    """Stopping the emulator kills a worker while the thread that started it may kill it too (it
    found the pool closed): both close the worker's pipes. A second close of the result pipe failed
    with EBADF (or could close a file that reused its number), and the failure stopped the
    controller's shutdown before it removed its staged folders."""
    ack = "import os, time; os.write(3, b'{\"ok\": true}\\n'); time.sleep(60)"
    for _ in range(40):
        worker = Worker(tmp_path, lambda _folder: [sys.executable, "-c", ack], time.time, sentinels=False)
        assert worker.start(10_000) is None
        barrier, errors = threading.Barrier(2), []

        def kill() -> None:
            barrier.wait()
            try:
                worker.kill()
            except Exception as exc:  # what the test looks for
                errors.append(exc)

        threads = [threading.Thread(target=kill) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and not worker.alive()


# A clone of github.com/apache/openwhisk-runtime-python (a work tree, or a bare git directory);
# its launcher is read from there at test time, never copied into this repository.
REAL_RUNTIME = os.environ.get("OPENWHISK_RUNTIME_PYTHON", "")


def _real_launcher_source() -> str | None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "lib"))
    try:
        from bench_cold import openwhisk_launcher  # what scripts/bench measures cold starts under
    finally:
        sys.path.pop(0)
    return openwhisk_launcher(REAL_RUNTIME)


def test_workers_can_be_the_real_openwhisk_launcher(make_controller) -> None:
    """The same protocol: apache/openwhisk-runtime-python's launcher serves our activations."""
    source = _real_launcher_source()
    if source is None:
        pytest.skip("set OPENWHISK_RUNTIME_PYTHON to a clone of apache/openwhisk-runtime-python "
                    "to run our actions under its launcher")
    def command(action):
        def build(folder: Path) -> list[str]:
            # What the runtime's `compile` does: the entry becomes main__.py, the launcher exec__.py.
            if not (folder / "exec__.py").exists():
                (folder / "main__.py").symlink_to((folder / "__main__.py").resolve())
                (folder / "exec__.py").write_text(source)
            return [sys.executable, "exec__.py"]
        return build

    controller = make_controller(command=command, sentinels=False)
    act = controller.invoke("demo/echo", {"x": 1})
    assert act.response.status_code == SUCCESS
    assert act.response.result["params"]["x"] == 1
    assert act.response.result["env"]["__OW_ACTIVATION_ID"] == act.activation_id
    assert controller.invoke("demo/echo", {}).response.result["calls"] == 2
    assert controller.invoke("demo/raises", {}).response.result == {"error": "boom: no reason"}
    assert controller.invoke("demo/nondict", {}).response.result == {"error": "The action did not return a dictionary."}
    printed = controller.invoke("demo/prints", {})
    assert any("stdout: hello on stdout" in line for line in printed.logs)


def test_controller_reload_rereads_the_manifest(controller) -> None:
    before = controller.invoke("demo/echo", {}).response.result
    controller.reload(env={"FIXTURE_SECRET": "rotated"})
    after = controller.invoke("demo/echo", {}).response.result
    assert after["params"]["API_SECRET"] == "rotated"
    assert after["pid"] != before["pid"]
