# Sourced by the scripts: creates .venv on first use and keeps it in step with pyproject.toml.
# Needs only python3.11 (or newer) on PATH.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

ensure_venv() {
  local extras="${1:-}"
  local stamp="$VENV/.installed${extras:+-$extras}"
  if [ ! -x "$PY" ]; then
    local base
    base="$(command -v python3.11 || command -v python3)"
    "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || { echo "Python 3.11 or newer is needed (found $("$base" --version 2>&1))." >&2; exit 1; }
    echo "Creating $VENV ..." >&2
    "$base" -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip
  fi
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "Installing dependencies${extras:+ ($extras)} into $VENV ..." >&2
    if ! "$PY" -m pip install -e "$ROOT${extras:+[$extras]}" >"$VENV/pip.log" 2>&1; then
      tail -n 30 "$VENV/pip.log" >&2
      echo "Installing dependencies failed; the whole log is in $VENV/pip.log" >&2
      exit 1
    fi
    touch "$stamp"
  fi
}

# The emulator, the library and the scripts import from the checkout (the library as the actions do).
export PYTHONPATH="$ROOT:$ROOT/actions${PYTHONPATH:+:$PYTHONPATH}"
