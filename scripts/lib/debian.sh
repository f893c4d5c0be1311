# Sourced by the scripts: installs Debian packages a script needs, when it may (root, apt-get).
# ensure_debian_packages NAME:EXECUTABLE...  installs each NAME whose EXECUTABLE is missing; when it
# cannot, it says so and goes on (the tests or the benchmark that need it then say what is missing).
ensure_debian_packages() {
  local missing=() entry
  for entry in "$@"; do
    [ -x "${entry#*:}" ] || missing+=("${entry%%:*}")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing ${missing[*]} ..." >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 && return 0
  fi
  echo "Could not install ${missing[*]} (needs root and apt-get); what needs it will say so." >&2
}
