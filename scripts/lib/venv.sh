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

# The test OpenID provider (panva's oidc-provider, Node.js), pinned by its package-lock.json: `npm ci`
# when it is missing or the lock changed. Without npm (and no apt-get to install it as root) it says so
# and returns 1; the caller decides whether that is fatal (the tests then fail in CI, skip elsewhere).
OPENID_PROVIDER="$ROOT/tests/social/provider"
ensure_openid_provider() {
  local stamp="$OPENID_PROVIDER/node_modules/.package-lock.json"  # npm ci writes it last
  if [ -f "$stamp" ] && [ ! "$OPENID_PROVIDER/package-lock.json" -nt "$stamp" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Node.js and npm for the test OpenID provider ..." >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2 || true
  fi
  if ! command -v npm >/dev/null; then
    echo "npm is missing: cannot install the test OpenID provider (apt-get install -y nodejs npm)." >&2
    return 1
  fi
  echo "Installing the test OpenID provider (npm ci in tests/social/provider) ..." >&2
  (cd "$OPENID_PROVIDER" && npm ci --no-audit --no-fund --loglevel=error >&2) || {
    echo "npm ci failed in $OPENID_PROVIDER." >&2
    return 1
  }
}

# The emulator, the library and the scripts import from the checkout (the library as the actions do).
export PYTHONPATH="$ROOT:$ROOT/actions${PYTHONPATH:+:$PYTHONPATH}"
