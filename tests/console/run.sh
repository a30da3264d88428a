#!/usr/bin/env bash
# Browser tests of the admin console: starts `tableau-scim demo` (the bridge and the Tableau
# simulator, ports chosen by the system), then runs console.test.mjs in headless Chromium.
# Installs what it needs when missing: Debian's chromium (apt) and playwright-core (npm ci,
# from package-lock.json; it downloads no browser). Screenshots: target/console-screenshots/.
# The last line is "passed N failed M".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

if [ ! -x /usr/bin/chromium ]; then
    echo "console tests: installing Debian's chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium >&2
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
    (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >&2)
fi

bin="${TABLEAU_SCIM_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --quiet --bin tableau-scim >&2
    bin="$repo/target/debug/tableau-scim"
fi

work="$(mktemp -d)"
demo_pid=""
cleanup() {
    if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

idp="idp-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
admin="admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
"$bin" demo --listen 127.0.0.1:0 --sim-listen 127.0.0.1:0 --data "$work/data" \
    --token "$idp" --admin-token "$admin" >"$work/demo.out" 2>"$work/demo.err" &
demo_pid=$!
for _ in $(seq 1 100); do
    grep -q "Admin console" "$work/demo.out" 2>/dev/null && break
    if ! kill -0 "$demo_pid" 2>/dev/null; then cat "$work/demo.err" >&2; exit 1; fi
    sleep 0.1
done
scim_url="$(sed -n 's/^ *SCIM base URL : //p' "$work/demo.out")"
console="$(sed -n 's/^ *Admin console : //p' "$work/demo.out")"
if [ -z "$scim_url" ] || [ -z "$console" ]; then
    echo "console tests: the demo did not start" >&2
    cat "$work/demo.out" "$work/demo.err" >&2
    exit 1
fi

mkdir -p "$repo/target/console-screenshots"
CONSOLE_ROOT="${console%/admin/}" SCIM_URL="$scim_url" IDP_TOKEN="$idp" ADMIN_TOKEN="$admin" \
    SCREENSHOTS="$repo/target/console-screenshots" \
    node "$here/console.test.mjs"
