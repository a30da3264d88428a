#!/usr/bin/env bash
# Runs tests/tsc/test_sim.py (tableauserverclient) against a freshly started simulator.
# Usage: tests/tsc/run.sh            (from anywhere; builds the debug binary if needed)
# Env:   PYTHON=/path/to/python      (default: .venv/bin/python, created if missing)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

if [ -z "${PYTHON:-}" ]; then
    "$root/scripts/venv.sh"
fi
python="${PYTHON:-$root/.venv/bin/python}"

cargo build -q --bin tableau-scim
log="$(mktemp)"
export SIM_SITE="tsc-site" SIM_PAT_NAME="tsc-pat" SIM_PAT_SECRET="tsc-pat-secret"
export SIM_ADMIN="tsc-admin@example.com" SIM_ADMIN_PASSWORD="tsc-admin-password"
export SIM_APP_CLIENT_ID="tsc-client" SIM_APP_SECRET_ID="tsc-secret-id" SIM_APP_SECRET="tsc-secret-value-0123456789abcdef"

target/debug/tableau-scim sim --listen 127.0.0.1:0 --site "$SIM_SITE" \
    --pat "$SIM_PAT_NAME:$SIM_PAT_SECRET" --user "$SIM_ADMIN:$SIM_ADMIN_PASSWORD" \
    --connected-app "$SIM_APP_CLIENT_ID:$SIM_APP_SECRET_ID:$SIM_APP_SECRET" >"$log" 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
    url="$(sed -n 's/^Tableau REST API simulator listening on //p' "$log")"
    [ -n "$url" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
done
[ -n "${url:-}" ] || { echo "simulator did not start"; cat "$log"; exit 1; }

SIM_URL="$url" "$python" "$root/tests/tsc/test_sim.py"
