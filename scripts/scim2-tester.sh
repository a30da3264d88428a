#!/usr/bin/env bash
# Start the SCIM server on a free port with a fresh SQLite store and run scim2-tester against it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh
cargo build --quiet --locked --bin tableau-scim
work=$(mktemp -d)
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SCIM_TOKEN="scim2-tester-$(date +%s%N)"
TABLEAU_SCIM_AUTH__TOKENS="[\"$SCIM_TOKEN\"]" RUST_LOG=warn \
  target/debug/tableau-scim serve --listen "127.0.0.1:$port" --data-dir "$work" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  if .venv/bin/python -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then break; fi
  sleep 0.1
done
if ! .venv/bin/python tests/scim2/check.py "http://127.0.0.1:$port/scim/v2"; then
  echo "server log:"; tail -n 40 "$work/server.log"
  exit 1
fi
