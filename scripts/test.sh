#!/usr/bin/env bash
# Every test of tableau-scim: the Rust unit and integration tests (store tests on SQLite, and on
# PostgreSQL when TABLEAU_SCIM_TEST_POSTGRES names a database), then the external checkers:
# scim2-tester against the SCIM server, tableauserverclient against the Tableau simulator.
# Python tools are installed into .venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test"
mkdir -p target
set +e
cargo test --all-targets --locked >target/cargo-test.log 2>&1
rc=$?
set -e
grep -E '^(test result|     Running)|FAILED|panicked' target/cargo-test.log || true
if [ "$rc" -ne 0 ]; then
  echo "cargo test failed (exit $rc); the end of target/cargo-test.log:"
  tail -n 80 target/cargo-test.log
  exit 1
fi
awk '/^test result/ { p += $4; f += $6; i += $8 } END { printf "cargo: %d passed, %d failed, %d ignored\n", p, f, i }' target/cargo-test.log

scripts/venv.sh

echo "== scim2-tester against the SCIM server"
scripts/scim2-tester.sh

if [ -x tests/tsc/run.sh ]; then
  echo "== tableauserverclient against the Tableau simulator"
  tests/tsc/run.sh
fi
