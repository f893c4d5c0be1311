"""What this OpenWhisk is: its info document (`GET /`) and a namespace's limits (`GET
/api/v1/namespaces/<ns>/limits`), built from the kinds and bounds the emulator really enforces.

The shapes are the controller's: Controller.info (description, support, api_paths, limits, runtimes by
family, each kind as ExecManifest.Runtimes.toJson writes it) and Limits.scala (UserLimits, every limit
filled in with the system's). Invocation rates are not throttled here; the numbers given for them are
OpenWhisk standalone's defaults (standalone.conf), which clients only print.
"""
from __future__ import annotations

from typing import Any

from emulator.manifest import LIMIT_RULES, MAX_SEQUENCE_LENGTH, PYTHON_KINDS
from emulator.web_actions import MAX_BODY_BYTES

API_PATHS = ["/api/v1"]
ACTIONS_PER_MINUTE = 60
TRIGGERS_PER_MINUTE = 60
CONCURRENT_ACTIONS = 30
DEFAULT_PYTHON_KIND = "python:3.10"  # the family's default in OpenWhisk's runtimes manifest
MB = 1024 * 1024


def runtime_kinds() -> list[str]:
    """The Python kinds an action may name; `python:default` is an alias of the default one, not a kind."""
    return [kind for kind in PYTHON_KINDS if kind != "python:default"]


def _runtime(kind: str) -> dict[str, Any]:
    version = kind.partition(":")[2]
    image = "openwhisk/python3action:nightly" if version == "3" else f"openwhisk/action-python-v{version}:nightly"
    return {"kind": kind, "image": image, "deprecated": False, "default": kind == DEFAULT_PYTHON_KIND,
            "attached": True, "requireMain": False}


def info_document() -> dict[str, Any]:
    """Controller.info, for this emulator. Every kind runs on the emulator's own Python.

    The Python kinds are listed under `nodejs` too: Adobe's aio CLI (aio-lib-runtime's
    getSupportedServerRuntimes) asks a server whether it runs a kind it does not know by looking in
    `runtimes.nodejs` only, since Adobe I/O Runtime runs nothing else; without them `aio rt deploy`
    refuses every Python action before sending it. Apache OpenWhisk lists them under `python` only.
    """
    python = [_runtime(kind) for kind in runtime_kinds()]
    return {
        "description": "OpenWhisk",
        "support": {"github": "https://github.com/apache/openwhisk/issues", "slack": "http://slack.openwhisk.org"},
        "api_paths": API_PATHS,
        "limits": {
            "actions_per_minute": ACTIONS_PER_MINUTE,
            "triggers_per_minute": TRIGGERS_PER_MINUTE,
            "concurrent_actions": CONCURRENT_ACTIONS,
            "sequence_length": MAX_SEQUENCE_LENGTH,
            **_action_bounds(),
        },
        "runtimes": {"python": python, "nodejs": [dict(entry, default=False) for entry in python]},
    }


def _action_bounds() -> dict[str, int]:
    """The least and most of each action limit, durations in milliseconds and sizes in bytes, both as
    a namespace's defaults and as the system's (they are the same here)."""
    timeout, memory, logs = (LIMIT_RULES[name] for name in ("timeout", "memory", "logs"))
    bounds = {"duration": (timeout[1], timeout[2]), "memory": (memory[1] * MB, memory[2] * MB),
              "logs": (logs[1] * MB, logs[2] * MB)}
    out = {}
    for prefix in ("default_", ""):
        for name, (least, most) in bounds.items():
            out[f"{prefix}min_action_{name}"], out[f"{prefix}max_action_{name}"] = least, most
    return out


def namespace_limits() -> dict[str, Any]:
    """UserLimits as Limits.scala answers for a namespace with none of its own: memory and log sizes
    in MB, durations in milliseconds, sizes as OpenWhisk's ByteSize prints them."""
    timeout, memory, logs, concurrency = (LIMIT_RULES[name] for name in ("timeout", "memory", "logs", "concurrency"))
    return {
        "invocationsPerMinute": ACTIONS_PER_MINUTE,
        "concurrentInvocations": CONCURRENT_ACTIONS,
        "firesPerMinute": TRIGGERS_PER_MINUTE,
        "minActionMemory": memory[1], "maxActionMemory": memory[2],
        "minActionLogs": logs[1], "maxActionLogs": logs[2],
        "minActionTimeout": timeout[1], "maxActionTimeout": timeout[2],
        "minActionConcurrency": concurrency[1], "maxActionConcurrency": concurrency[2],
        "maxParameterSize": f"{MAX_BODY_BYTES // MB} MB",
        "maxActionInstances": CONCURRENT_ACTIONS,
    }
