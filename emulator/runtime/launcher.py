"""Worker program: the OpenWhisk Python action protocol, run as `python launcher.py [main]`.

It is started with the staged action folder as its cwd and speaks the protocol of
apache/openwhisk-runtime-python's launcher, so either can serve as a worker:
import the action (`__main__.py`, exposed as module `main__`), then per stdin JSON line
`{"value": params, "activation_id": ..., ...}` set `__OW_<KEY>` for every key but `value`, call
`main(value)`, write the result as one JSON line to fd 3, and end the activation's stdout/stderr
with the sentinel the action proxy prints, so the runtime knows where its logs stop.
It must not import the emulator: the action folder, not this file's folder, is sys.path[0].
"""
import importlib.util
import json
import os
import sys
import traceback

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
NOT_A_DICT = "The action did not return a dictionary."


def _activate_virtualenv() -> None:
    """A zip's `virtualenv/` folder is activated as the real runtime does (activate_this.py)."""
    venv = os.path.abspath("virtualenv")
    if not os.path.isdir(venv):
        return
    script = os.path.join(venv, "bin", "activate_this.py")
    if not os.path.exists(script):
        sys.stderr.write("Invalid virtualenv. Zip file does not include 'activate_this.py'.\n")
        sys.exit(1)
    with open(script) as f:
        exec(compile(f.read(), script, "exec"), {"__file__": script})


def _load_main(name: str):
    spec = importlib.util.spec_from_file_location("main__", os.path.abspath("__main__.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["main__"] = module
    spec.loader.exec_module(module)
    return getattr(module, name)


def _end_activation(out) -> None:
    for stream in (sys.stdout, sys.stderr):
        stream.write(SENTINEL + "\n")
        stream.flush()
    out.flush()


def serve(main_name: str = "main") -> None:
    if sys.flags.isolated:  # -I leaves the script's folder out of sys.path: add the action's
        sys.path.insert(0, os.getcwd())
    else:
        sys.path[0] = os.getcwd()
    _activate_virtualenv()
    main = _load_main(main_name)
    out = os.fdopen(3, "wb")
    if os.getenv("__OW_WAIT_FOR_ACK", "") != "":
        out.write(json.dumps({"ok": True}).encode("utf-8") + b"\n")
        out.flush()
    env = os.environ
    for line in sys.stdin:
        args = json.loads(line)
        payload = {}
        for key, value in args.items():
            if key == "value":
                payload = value
            else:
                env["__OW_%s" % key.upper()] = value if isinstance(value, str) else json.dumps(value)
        try:
            res = main(payload)
            if not isinstance(res, dict):
                print(f"The action returned a {type(res).__name__}, not a json object.", file=sys.stderr)
                res = {"error": NOT_A_DICT}
        except Exception as ex:
            print(traceback.format_exc(), file=sys.stderr)
            res = {"error": str(ex)}
        data = json.dumps(res, ensure_ascii=False).encode("utf-8")
        out.write(data + b"\n")
        _end_activation(out)


if __name__ == "__main__":
    serve(sys.argv[1] if len(sys.argv) > 1 else "main")
