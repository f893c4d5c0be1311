# Sourced by scripts/test (and by the interop tests): npm packages pinned by a committed lock file,
# installed once per machine into a cache outside the checkout, one folder per lock file's content.
#   npm_packages tests/interop/aio-cli   # prints the folder holding its node_modules/, installing it first
# Needs node and npm on PATH. NPM_PACKAGES_CACHE moves the cache.
NPM_PACKAGES_CACHE="${NPM_PACKAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/commerce-social-login/npm}"

npm_packages() {
  local source="$1" name lock digest target staging
  name="$(basename "$source")"
  lock="$source/package-lock.json"
  [ -f "$lock" ] || { echo "npm_packages: $lock is missing" >&2; return 1; }
  command -v npm >/dev/null || { echo "npm_packages: npm is not on PATH (Node.js 20 or newer is needed)" >&2; return 1; }
  digest="$(sha256sum "$lock" | cut -c1-16)"
  target="$NPM_PACKAGES_CACHE/$name-$digest"
  if [ ! -d "$target/node_modules" ]; then
    echo "Installing the npm packages of $source into $target ..." >&2
    mkdir -p "$NPM_PACKAGES_CACHE"
    staging="$(mktemp -d "$NPM_PACKAGES_CACHE/.$name-XXXXXX")"
    cp "$source/package.json" "$lock" "$staging/"
    # --ignore-scripts: nothing these tests use needs a build step, and none may download anything.
    if ! (cd "$staging" && npm ci --ignore-scripts --no-audit --no-fund >npm.log 2>&1); then
      tail -n 30 "$staging/npm.log" >&2
      echo "npm_packages: installing $source failed; the whole log is in $staging/npm.log" >&2
      return 1
    fi
    # Another checkout may have installed the same lock meanwhile: the first one in stays.
    mv -T "$staging" "$target" 2>/dev/null || rm -rf "$staging"
  fi
  echo "$target"
}
