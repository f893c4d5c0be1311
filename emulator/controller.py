"""The OpenWhisk core: owns the manifest, the worker pools and the activation store.

Named after OpenWhisk's controller, the component that resolves an entity, merges its defaults,
hands it to an invoker and records the activation. Everything that serves HTTP (the Flask app,
the GraphQL facade) calls this object; nothing in it knows about HTTP except through
`emulator.web_actions`, which is itself HTTP-library-free.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from emulator.activations import (
    APPLICATION_ERROR, DEVELOPER_ERROR, INTERNAL_ERROR, SUCCESS, Activation, ActivationStore, Redactor,
    Response, new_activation_id,
)
from emulator.manifest import Action, Manifest, Sequence, every_limit, load_env, load_manifest
from emulator.registry import SEQUENCE_COMPONENT_NOT_FOUND, EntityRegistry, StateFileError
from emulator.runtime import staging
from emulator.runtime.containers import Command, format_log
from emulator.runtime.pool import QUEUE_LENGTH, ActionPool, new_stage_root
from emulator.sequences import run_sequence
from emulator.throttling import Throttled
from emulator.web_actions import WebGateway, WebResponse

TIMEOUT_PREFIX = "The action exceeded its time limits"
PROVISION_ERROR = "Failed to provision resources to run the action."  # OpenWhisk's wording
SECRET_NAME_HINTS = ("SECRET", "KEY", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE")


class EntityNotFound(LookupError):
    """No action or sequence by that name (OpenWhisk answers 404)."""

    status = 404

    def __init__(self, fqn: str) -> None:
        super().__init__(f"The requested resource '{fqn}' does not exist.")
        self.fqn = fqn


class Controller:
    """Invoke actions and sequences of one manifest, keeping OpenWhisk-shaped activation records."""

    def __init__(
        self,
        manifest: Manifest,
        *,
        namespace: str = "guest",
        clock: Callable[[], float] = time.time,
        secrets: Callable[[], Iterable[str]] | None = None,
        not_headers: Iterable[str] = (),
        workers_per_action: int = 4,
        queue_length: int = QUEUE_LENGTH,
        prewarm: int = 0,
        activation_store_size: int = 1000,
        api_host: str = "",
        api_key: str = "",
        command: Callable[[Action], Command] | None = None,
        sentinels: bool = True,
        state_file: Path | None = None,
        input_defaults: Callable[[Action], Mapping[str, Any]] | None = None,
    ) -> None:
        self.manifest = manifest
        self.namespace = namespace
        self.clock = clock
        self.workers_per_action = workers_per_action
        self.queue_length = queue_length
        self.prewarm = prewarm  # workers per action started ahead of load (`start_prewarmed`)
        self.api_host = api_host
        self.api_key = api_key  # given to actions annotated provide-api-key, as OpenWhisk does
        self.activations = ActivationStore(activation_store_size)
        extra_secrets = secrets or (lambda: ())
        self._manifest_secrets: tuple[Manifest | None, list[str]] = (None, [])
        self._redactor = Redactor(lambda: [*self._input_secrets(), *extra_secrets(), self.api_key], not_headers)
        self._command = command
        self._input_defaults = input_defaults  # what the platform fills into an action's empty inputs
        self._sentinels = sentinels
        self._stage_root = new_stage_root()
        self._pools: dict[str, ActionPool] = {}
        self._lock = threading.Lock()
        self._closed = False
        # Entities deployed through the REST API; `state_file` keeps them across restarts.
        try:
            self.registry = EntityRegistry(namespace, self._stage_root / "deployed", lambda: self.manifest,
                                           state_file=state_file, clock=clock)
        except StateFileError:
            staging.unstage(self._stage_root)
            raise
        self.web_gateway = WebGateway(self.find, self.invoke, self.start, namespace, api_key)

    @classmethod
    def from_path(cls, manifest_path: Path, env: Mapping[str, str] | None = None, **kwargs: Any) -> "Controller":
        """Load `manifest_path` with `env` (default: os.environ over the `.env` next to it)."""
        manifest_path = Path(manifest_path)
        env = load_env(manifest_path.resolve().parent) if env is None else env
        return cls(load_manifest(manifest_path, env), **kwargs)

    # ------------------------------------------------------------------------------ public API

    def find(self, fqn: str) -> Action | Sequence | None:
        """A deployed entity, else the manifest's (a deployment shadows the manifest, as a real deploy
        overwrites an entity of the same name)."""
        return self.registry.find(fqn) or self.manifest.find(fqn)

    def invoke(self, fqn: str, params: dict[str, Any] | None = None, *, cause: str | None = None,
               activation_id: str | None = None) -> Activation:
        """Run an action or sequence, blocking; returns its record (result unredacted).

        The stored copy (activations API) is redacted before it is read. Raises EntityNotFound for
        unknown names, and Throttled when no worker took the action (or a component) in time: its
        record is stored too (`emulator.throttling`).
        `activation_id` lets a caller (a non-blocking invoke) know the id before the run.
        """
        entity = self.find(fqn)
        if entity is None:
            raise EntityNotFound(fqn)
        return self._run(entity, dict(params or {}), cause, activation_id)

    def start_prewarmed(self, wait: float = 0.0) -> None:
        """Start `prewarm` workers of every action in the background, so that a first burst of load
        finds them warm (OpenWhisk's prewarmed containers), and wait `wait` s at most for them. Called
        before the emulator serves; a reload or a deployment warms what it brings in the same way."""
        actions = [a for pkg in self.manifest.packages.values() for a in pkg.actions.values()]
        for action in [*actions, *self.registry.runtime_actions()]:
            self._prewarm(action.fqn)
        deadline = time.monotonic() + wait
        for pool in list(self._pools.values()):
            pool.wait_started(max(0.0, deadline - time.monotonic()))

    def start(self, fqn: str, params: dict[str, Any] | None = None, *,
              activation_id: str | None = None) -> Future[Activation]:
        """`invoke` in a thread of its own: a caller that waits only so long (a blocking REST invoke, a web
        call) answers 202 when the wait ends, and the activation goes on; its record appears when it ends."""
        future: Future[Activation] = Future()

        def run() -> None:
            try:
                future.set_result(self.invoke(fqn, params, activation_id=activation_id))
            except BaseException as exc:  # EntityNotFound, or the emulator's own failure
                future.set_exception(exc)

        threading.Thread(target=run, name=f"activation-{activation_id or fqn}", daemon=True).start()
        return future

    # Deployments (the REST API's PUT / DELETE): the registry decides, the controller retires workers.

    def put_action(self, package: str, name: str, body: dict[str, Any], overwrite: bool = False) -> dict[str, Any]:
        doc, replaced = self.registry.put_action(package, name, body, overwrite)
        self.retire(replaced)
        self._prewarm(f"{package}/{name}")
        return doc

    def delete_action(self, package: str, name: str) -> dict[str, Any]:
        doc, removed = self.registry.delete_action(package, name)
        self.retire(removed)
        return doc

    def delete_package(self, name: str, force: bool = False) -> dict[str, Any]:
        doc, removed = self.registry.delete_package(name, force)
        for entity in removed:
            self.retire(entity)
        return doc

    def retire(self, entity: Action | Sequence | None) -> None:
        """A deployment replaced or removed `entity`: its warm workers go (busy ones once done)."""
        if entity is None:
            return
        with self._lock:
            pool = self._pools.get(entity.fqn)
            if pool is None or pool.action is not entity:
                return
            del self._pools[entity.fqn]
        pool.retire()

    def web(self, path: str, method: str, headers: Mapping[str, str], query_string: str, body: bytes,
            scheme: str = "http") -> WebResponse:
        """Serve `/api/v1/web/<path>`; `path` starts with the namespace."""
        namespace, _, rest = path.lstrip("/").partition("/")
        return self.web_gateway.handle(namespace, rest, method, headers, query_string, body, scheme=scheme)

    def reload(self, manifest: Manifest | None = None, env: Mapping[str, str] | None = None) -> None:
        """Take a new manifest (default: reread the same file) and retire every worker."""
        if manifest is None:
            assert self.manifest.path is not None, "reload() needs a manifest loaded from a file"
            path = self.manifest.path
            manifest = load_manifest(path, load_env(path.parent) if env is None else env)
        with self._lock:
            self.manifest, pools, self._pools = manifest, self._pools, {}
        for pool in pools.values():
            pool.shutdown()
        self.start_prewarmed()

    def shutdown(self) -> None:
        """Kill every worker and remove the staged folders. Safe to call twice."""
        with self._lock:
            self._closed = True
            pools, self._pools = self._pools, {}
        try:
            for pool in pools.values():
                pool.shutdown()
        finally:  # the staged folders go even if stopping a pool failed (its error still surfaces)
            staging.unstage(self._stage_root)

    def worker_count(self, fqn: str) -> int:
        pool = self._pools.get(fqn)
        return pool.workers() if pool else 0

    def waiting_count(self, fqn: str) -> int:
        """Activations of `fqn` waiting in its queue for a worker."""
        pool = self._pools.get(fqn)
        return pool.waiting() if pool else 0

    # ------------------------------------------------------------------------------ internals

    def _prewarm(self, fqn: str) -> None:
        entity = self.find(fqn)
        if self.prewarm and isinstance(entity, Action):
            self._pool(entity)[0].start_prewarmed()

    def _component(self, fqn: str, payload: dict[str, Any], cause: str) -> Activation | Response:
        entity = self.find(fqn)
        if entity is not None:  # a sequence may hold sequences
            return self._run(entity, payload, cause)
        # deleted since the sequence was deployed: an application error, and no record (SequenceActions)
        return Response(APPLICATION_ERROR, {"error": SEQUENCE_COMPONENT_NOT_FOUND})

    def _run(self, entity: Action | Sequence, params: dict[str, Any], cause: str | None,
             activation_id: str | None = None) -> Activation:
        """Run `entity` and store its record (redacted when first read), a throttled one's too."""
        try:
            if isinstance(entity, Sequence):
                act = run_sequence(entity, params, self._component, namespace=self.namespace,
                                   clock=self.clock, cause=cause, activation_id=activation_id)
            else:
                act = self._run_action(entity, params, cause, activation_id)
        except Throttled as throttled:
            if throttled.activation is not None:
                self.activations.add(throttled.activation, self._redactor.deferred())
            raise
        self.activations.add(act, self._redactor.deferred())
        return act

    def _pool(self, action: Action) -> tuple[ActionPool, bool]:
        """The action's pool, and whether it is a one-off to retire after the run.

        A pool of another version of the action (`reload`) is replaced; the one it replaces is retired
        outside the lock, so that stopping its idle workers does not hold up other activations. A
        request that found the entity just before a deployment or reload replaced it runs on a
        one-off pool (the old code, as an in-flight activation in OpenWhisk), and leaves the current
        version's pool in place."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the emulator is shutting down")
            pool = replaced = self._pools.get(action.fqn)
            if pool is not None and pool.action is action:
                return pool, False
            command = self._command(action) if self._command else None
            pool = ActionPool(action, self.manifest.root, self._stage_root, self.clock,
                              max_workers=self.workers_per_action, command=command, sentinels=self._sentinels,
                              queue_length=self.queue_length, prewarm=self.prewarm)
            stale = self.find(action.fqn) is not action
            if not stale:
                self._pools[action.fqn] = pool
        if replaced is not None and not stale:
            replaced.retire()
        return pool, stale

    def _run_action(self, action: Action, params: dict[str, Any], cause: str | None,
                    activation_id: str | None = None) -> Activation:
        activation_id = activation_id or new_activation_id()
        # Defaults under the payload: the caller's params win (OpenWhisk merges the same way).
        value = {**self._inputs(action), **params}
        message = {
            "value": value,
            "action_name": f"/{self.namespace}/{action.fqn}",
            "action_version": action.version,
            "activation_id": activation_id,
            "namespace": self.namespace,
            "transaction_id": new_activation_id(),
            "deadline": str(int((time.time() + action.timeout_ms / 1000) * 1000)),
            "api_host": self.api_host,
        }
        if action.annotations.get("provide-api-key") and self.api_key:
            message["api_key"] = self.api_key
        annotations: list[dict[str, Any]] = [
            {"key": "path", "value": f"{self.namespace}/{action.fqn}"},
            {"key": "kind", "value": action.runtime},
            {"key": "limits", "value": every_limit(action.limits)},
        ]
        try:
            pool, one_off = self._pool(action)
            try:
                run = pool.run(message)
            finally:
                if one_off:
                    pool.retire()
        except Throttled as throttled:  # nothing ran: the record says why, the caller answers 429
            end = self.clock()
            annotations += [{"key": "waitTime", "value": throttled.wait_ms}, {"key": "timeout", "value": False}]
            if cause is not None:
                annotations.append({"key": "causedBy", "value": "sequence"})
            throttled.activation = Activation(
                activation_id, self.namespace, action.name, int(end * 1000), int(end * 1000),
                Response(DEVELOPER_ERROR, {"error": throttled.reason}), [], annotations,
                version=action.version, cause=cause)
            raise
        except Exception as exc:  # the emulator's fault, never the action's: status 3 (nothing ran)
            end = self.clock()
            logs = [format_log(end, "stderr", f"emulator: {type(exc).__name__}: {exc}")]
            return Activation(activation_id, self.namespace, action.name, int(end * 1000), int(end * 1000),
                              Response(INTERNAL_ERROR, {"error": PROVISION_ERROR}), logs, annotations,
                              version=action.version, cause=cause)
        end = self.clock()
        start = run.start  # when a worker took it: the wait for one is the waitTime annotation
        outcome = run.outcome
        if outcome.developer_error:
            status = DEVELOPER_ERROR
        elif "error" in outcome.result:
            status = APPLICATION_ERROR
        else:
            status = SUCCESS
        annotations.append({"key": "waitTime", "value": run.wait_ms})
        if run.init_ms is not None:
            annotations.append({"key": "initTime", "value": run.init_ms})
        error = outcome.result.get("error")
        timed_out = outcome.developer_error and isinstance(error, str) and error.startswith(TIMEOUT_PREFIX)
        annotations.append({"key": "timeout", "value": timed_out})
        if cause is not None:
            annotations.append({"key": "causedBy", "value": "sequence"})
        return Activation(activation_id, self.namespace, action.name, int(start * 1000), int(end * 1000),
                          Response(status, outcome.result), outcome.logs, annotations, version=action.version,
                          cause=cause)

    def _inputs(self, action: Action) -> dict[str, Any]:
        """The action's inputs, those left empty filled from `input_defaults` (the emulator's own values
        for settings a deployment must give, such as social-login's Commerce)."""
        defaults = self._input_defaults(action) if self._input_defaults else None
        if not defaults:
            return action.inputs
        return {**action.inputs, **{k: v for k, v in defaults.items() if action.inputs.get(k) in (None, "")}}

    def _input_secrets(self) -> list[str]:
        """Default redaction list: values of inputs whose names look secret (CRYPT_KEY, ...). The
        manifest's are found once per manifest (it is replaced, never changed, on reload)."""
        manifest, found = self._manifest_secrets
        if manifest is not self.manifest:
            manifest = self.manifest
            found = _secret_inputs(a for pkg in manifest.packages.values() for a in pkg.actions.values())
            self._manifest_secrets = (manifest, found)
        return [*found, *_secret_inputs(self.registry.runtime_actions())]


def _secret_inputs(actions: Iterable[Action]) -> list[str]:
    return [value for action in actions for name, value in action.inputs.items()
            if isinstance(value, str) and value and any(h in name.upper() for h in SECRET_NAME_HINTS)]
