"""app.config.yaml as App Builder reads it: interpolation, inputs, $include, flags, errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from emulator.manifest import ManifestError, load_env, load_manifest

ROOT_KEY = "application.runtimeManifest.packages"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, "actions/a/__main__.py", "def main(args):\n    return args\n")
    write(tmp_path, "actions/lib/pkg/__init__.py", "")
    write(tmp_path, "actions/lib/pkg/sub/mod.py", "X = 1\n")
    return tmp_path


def manifest_text(action_extra: str = "", package_extra: str = "") -> str:
    return f"""
application:
  runtimeManifest:
    packages:
      p:
        inputs:
          FROM_PKG: pkg
          BOTH: pkg
{package_extra}
        actions:
          a:
            function: actions/a/__main__.py
            inputs:
              PLAIN: $PLAIN_VAR
              BRACED: ${{BRACED_VAR}}
              SPACED: ${{ SPACED_VAR }}
              MISSING: $NOT_SET_ANYWHERE
              MIXED: pre-${{PLAIN_VAR}}-post
              BOTH: action
{action_extra}
"""


ENV = {"PLAIN_VAR": "plain", "BRACED_VAR": "braced", "SPACED_VAR": "spaced"}


def test_interpolation_and_input_merge(project: Path) -> None:
    m = load_manifest(write(project, "app.config.yaml", manifest_text()), ENV)
    a = m.packages["p"].actions["a"]
    assert a.inputs == {
        "FROM_PKG": "pkg", "BOTH": "action", "PLAIN": "plain", "BRACED": "braced", "SPACED": "spaced",
        "MISSING": "", "MIXED": "pre-plain-post",
    }
    assert a.function == project / "actions/a/__main__.py"
    assert (a.web, a.raw, a.runtime) == (False, False, "python:3.11")
    assert a.limits == {"timeout": 60000, "memory": 256, "concurrency": 1, "logs": 10}


@pytest.mark.parametrize("flag, web, raw", [
    ("true", True, False), ("'yes'", True, False), ("'raw'", True, True), ("'no'", False, False),
    ("false", False, False),
])
def test_web_flag(project: Path, flag: str, web: bool, raw: bool) -> None:
    text = manifest_text(f"            web: {flag}")
    a = load_manifest(write(project, "app.config.yaml", text), ENV).packages["p"].actions["a"]
    assert (a.web, a.raw) == (web, raw)


def test_limits_annotations_includes_and_sequences(project: Path) -> None:
    write(project, "actions/b/__main__.py", "def main(a):\n    return a\n")
    extra = """            annotations:
              final: true
            limits:
              timeout: 1500
              memory: 512
            include:
              - ['actions/lib/**/*.py', 'lib/']
          b:
            function: actions/b/__main__.py
        sequences:
          s:
            actions: 'a, b'
            web: raw"""
    m = load_manifest(write(project, "app.config.yaml", manifest_text(extra)), ENV)
    a = m.packages["p"].actions["a"]
    assert a.annotations == {"final": True}
    assert a.limits["timeout"] == 1500 and a.limits["memory"] == 512
    files = {str(dest) for _, dest in a.includes[0].files(project)}
    assert files == {"lib/pkg/__init__.py", "lib/pkg/sub/mod.py"}
    s = m.packages["p"].sequences["s"]
    assert (s.components, s.web, s.raw) == (["p/a", "p/b"], True, True)
    assert m.find("p/s") is s and m.find("/guest/p/a") is a and m.find("p/zzz") is None


def test_load_env_environment_wins_over_dotenv(tmp_path: Path) -> None:
    write(tmp_path, ".env", "ONLY_FILE=file\nBOTH=file\n")
    env = load_env(tmp_path, {"BOTH": "environment"})
    assert env["ONLY_FILE"] == "file" and env["BOTH"] == "environment"


def test_load_env_does_not_touch_os_environ(tmp_path: Path) -> None:
    import os

    write(tmp_path, ".env", "EMULATOR_TEST_ONLY_IN_FILE=1\n")
    assert load_env(tmp_path)["EMULATOR_TEST_ONLY_IN_FILE"] == "1"
    assert "EMULATOR_TEST_ONLY_IN_FILE" not in os.environ


def test_include_parent_keys_win_and_path_is_relative(project: Path) -> None:
    write(project, "conf/actions.yaml", """
a:
  function: actions/a/__main__.py
  inputs: {FROM_INCLUDE: yes-really}
  limits:
    $include: limits.yaml
""")
    write(project, "conf/limits.yaml", "timeout: 2000\nmemory: 128\n")
    main = write(project, "app.config.yaml", """
application:
  runtimeManifest:
    packages:
      p:
        actions:
          $include: conf/actions.yaml
          a:
            function: actions/a/__main__.py
""")
    # The parent's `a` wins entirely over the included `a` (keys already in the parent win).
    a = load_manifest(main, {}).packages["p"].actions["a"]
    assert a.inputs == {} and a.limits["timeout"] == 60000
    write(project, "app.config.yaml", """
application:
  runtimeManifest:
    packages:
      p:
        actions:
          $include: conf/actions.yaml
""")
    a = load_manifest(main, {}).packages["p"].actions["a"]
    assert a.inputs == {"FROM_INCLUDE": "yes-really"} and a.limits["timeout"] == 2000


def test_include_cycle_is_an_error(project: Path) -> None:
    write(project, "one.yaml", "x:\n  $include: two.yaml\n")
    write(project, "two.yaml", "y:\n  $include: one.yaml\n")
    main = write(project, "app.config.yaml", "application:\n  $include: one.yaml\n")
    with pytest.raises(ManifestError, match="include cycle") as err:
        load_manifest(main, {})
    assert "two.yaml" in str(err.value) and "$include" in str(err.value)


def test_include_missing_file_is_an_error(project: Path) -> None:
    main = write(project, "app.config.yaml", "application:\n  runtimeManifest:\n    $include: nope.yaml\n")
    with pytest.raises(ManifestError) as err:
        load_manifest(main, {})
    message = str(err.value)
    assert str(main) in message and "application.runtimeManifest.$include" in message and "not found" in message


@pytest.mark.parametrize("extra, key, problem", [
    ("            limits:\n              timeout: soon", "p.actions.a.limits.timeout", "whole number"),
    ("            web: maybe", "p.actions.a.web", "must be true"),
    ("            include: 'not-a-list'", "p.actions.a.include", "list"),
    ("            runtime: python:9.9", "p.actions.a.runtime", "unsupported runtime 'python:9.9' (this emulator "
                                                           "runs python:3, python:3.10, python:3.11"),
])
def test_errors_name_file_key_and_problem(project: Path, extra: str, key: str, problem: str) -> None:
    main = write(project, "app.config.yaml", manifest_text(extra))
    with pytest.raises(ManifestError) as err:
        load_manifest(main, ENV)
    message = str(err.value)
    assert message.startswith(f"{main}: {ROOT_KEY}.{key}: ") and problem in message


def test_missing_function_file_and_bad_sequence(project: Path) -> None:
    bad = manifest_text().replace("actions/a/__main__.py", "actions/zz/__main__.py")
    with pytest.raises(ManifestError, match=r"packages\.p\.actions\.a\.function: file not found"):
        load_manifest(write(project, "app.config.yaml", bad), ENV)
    seq = manifest_text(package_extra="") + "        sequences:\n          s:\n            actions: 'a, ghost'\n"
    with pytest.raises(ManifestError, match=r"sequences\.s\.actions: 'ghost' is not an action"):
        load_manifest(write(project, "app.config.yaml", seq), ENV)
    one = manifest_text() + "        sequences:\n          s:\n            actions: 'a'\n"
    with pytest.raises(ManifestError, match="two or more"):
        load_manifest(write(project, "app.config.yaml", one), ENV)


def test_invalid_yaml_names_line(project: Path) -> None:
    main = write(project, "app.config.yaml", "application:\n  runtimeManifest: [\n")
    with pytest.raises(ManifestError, match=r"invalid YAML \(line \d+"):
        load_manifest(main, {})


def test_project_manifest_loads() -> None:
    root = Path(__file__).resolve().parents[2]
    m = load_manifest(root / "app.config.yaml", {"CRYPT_KEY": "k" * 32})
    seq = m.packages["customer-auth"].sequences["exchange-external-customer-token"]
    assert seq.components == ["customer-auth/verify-oauth", "customer-auth/upsert-customer", "customer-auth/issue-token"]
    assert seq.web and seq.raw
    assert m.packages["customer-auth"].actions["issue-token"].inputs["CRYPT_KEY"] == "k" * 32
