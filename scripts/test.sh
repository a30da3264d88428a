#!/usr/bin/env bash
# Every test of tableau-scim: the Rust unit and integration tests of the workspace (the bridge
# and crates/tableau-sim; store tests on SQLite, and on PostgreSQL when
# TABLEAU_SCIM_TEST_POSTGRES names a database), then the external checkers:
# scim2-tester against the SCIM server, tableauserverclient against the Tableau simulator, and
# the admin console's browser tests (headless Chromium; tests/console/run.sh installs Debian's
# chromium and playwright-core when missing). Python tools are installed into .venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test"
mkdir -p target
set +e
cargo test --workspace --all-targets --locked >target/cargo-test.log 2>&1
rc=$?
set -e
grep -E '^(test result|     Running)|FAILED|panicked' target/cargo-test.log || true
if [ "$rc" -ne 0 ]; then
  echo "cargo test failed (exit $rc); the end of target/cargo-test.log:"
  tail -n 80 target/cargo-test.log
  exit 1
fi
cargo_passed=$(awk '/^test result/ { p += $4 } END { print p + 0 }' target/cargo-test.log)
echo "cargo: $cargo_passed passed, 0 failed"

scripts/venv.sh

echo "== scim2-tester against the SCIM server"
scripts/scim2-tester.sh | tee target/scim2-tester.log
scim2_passed=$(sed -n 's/^scim2-tester: \([0-9]*\) passed.*/\1/p' target/scim2-tester.log)

echo "== tableauserverclient against the Tableau simulator"
tests/tsc/run.sh | tee target/tsc.log
tsc_passed=$(sed -n 's/^\([0-9]*\) passed, 0 failed$/\1/p' target/tsc.log)

echo "== the admin console in headless Chromium"
tests/console/run.sh | tee target/console.log
console_passed=$(sed -n 's/^passed \([0-9]*\) failed 0$/\1/p' target/console.log)

echo
echo "total: $((cargo_passed + scim2_passed + tsc_passed + console_passed)) passed, 0 failed"
