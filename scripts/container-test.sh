#!/usr/bin/env bash
# Builds docker/Dockerfile's runtime image with podman (no Docker engine needed) and checks that
# the server inside it starts as the non-root user, answers, passes its own HEALTHCHECK command
# and stops with exit code 0 on SIGTERM. The binary is built on this machine (BIN_STAGE=
# prebuilt: no Rust image can be fetched here); the Debian base image is made locally with
# debootstrap when missing. podman cannot run containers here (no RLIMIT_NPROC), so the image
# is mounted and the binary run in it with chroot. `--format docker` keeps the HEALTHCHECK (OCI
# images have none). Installs podman and debootstrap if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
P=(podman --storage-driver vfs)
BASE=docker.io/library/debian:bookworm-slim
IMAGE=localhost/tableau-scim-test:latest
TOKEN="container-test-token-$(date +%s%N)"
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*"; echo "container-test: $passed passed, 1 failed"; exit 1; }

if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
  echo "== installing podman and debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman debootstrap >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman debootstrap >/dev/null; }
fi

work=$(mktemp -d)
mounted=""
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$mounted" ] && "${P[@]}" image unmount "$IMAGE" >/dev/null 2>&1 || true
  "${P[@]}" rmi -f "$IMAGE" >/dev/null 2>&1 || true
  # The build's intermediate stage stays behind untagged; with vfs storage each is a full copy.
  "${P[@]}" image prune -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== the binary"
cargo build --locked --bin tableau-scim 2>&1 | tail -n 1
mkdir -p "$work/ctx/docker"
cp docker/Dockerfile "$work/ctx/docker/Dockerfile"
cp target/debug/tableau-scim "$work/ctx/docker/tableau-scim"
# Without debug info: a smaller layer to copy (vfs storage copies every layer).
strip "$work/ctx/docker/tableau-scim" 2>/dev/null || true
CHROOT=$(command -v chroot)

if ! "${P[@]}" image exists "$BASE"; then
  echo "== base image $BASE from Debian packages (debootstrap)"
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
  mirror=${mirror:-http://deb.debian.org/debian}
  debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$work/rootfs" -c . | "${P[@]}" import - "$BASE" >/dev/null
  rm -rf "$work/rootfs"
fi

echo "== podman build"
b0=$(date +%s)
"${P[@]}" build --format docker --isolation chroot --pull=never --build-arg BIN_STAGE=prebuilt --target runtime \
  -f "$work/ctx/docker/Dockerfile" -t "$IMAGE" "$work/ctx" >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log"; fail "podman build"; }
ok "image built in $(( $(date +%s) - b0 )) s"

config=$("${P[@]}" image inspect "$IMAGE" --format '{{.Config.User}}|{{json .Config.Volumes}}|{{json .Config.Healthcheck}}|{{json .Config.Entrypoint}}')
[[ "$config" == scim\|*'"/data"'*\|*healthcheck*\|*tableau-scim* ]] || fail "image config: $config"
ok "non-root user, /data volume, HEALTHCHECK, the binary as entrypoint"

M=$("${P[@]}" image mount "$IMAGE")
mounted=1
mkdir -p "$M/tmp" "$M/proc" "$M/dev"
chmod 1777 "$M/tmp"
[ -e "$M/dev/null" ] || mknod -m 666 "$M/dev/null" c 1 3
[ -e "$M/dev/urandom" ] || mknod -m 444 "$M/dev/urandom" c 1 9
[ "$(stat -c '%u %a' "$M/data")" = "10001 700" ] || fail "/data owned by scim, 0700: $(stat -c '%u %a' "$M/data")"
ok "/data belongs to the scim user, mode 0700"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "== the server in the image on 127.0.0.1:$port"
env -i PATH=/usr/local/bin:/usr/bin:/bin NO_COLOR=1 TABLEAU_SCIM_DATA_DIR=/data \
  TABLEAU_SCIM_AUTH__TOKENS="[\"$TOKEN\"]" \
  "$CHROOT" --userspec=10001:10001 "$M" /usr/local/bin/tableau-scim serve --listen "127.0.0.1:$port" \
  >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log"; fail "the server exited"; }
  sleep 0.1
done
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  "http://127.0.0.1:$port/scim/v2/ServiceProviderConfig")
[ "$status" = 200 ] || { cat "$work/server.log"; fail "ServiceProviderConfig answered $status"; }
ok "GET /scim/v2/ServiceProviderConfig answered 200"
healthz=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
[ "$healthz" = 200 ] || fail "GET /healthz answered $healthz"
ok "GET /healthz answered 200"
chroot --userspec=10001:10001 "$M" /usr/local/bin/tableau-scim healthcheck "http://127.0.0.1:$port/healthz" \
  || fail "the HEALTHCHECK command"
ok "the HEALTHCHECK command passes"
[ "$(stat -c '%a' "$M/data/tableau-scim.db")" = 600 ] || fail "database file mode"
ok "the SQLite store in /data is 0600"

kill -TERM "$pid"
set +e
wait "$pid"
code=$?
set -e
pid=""
[ "$code" = 0 ] || { cat "$work/server.log"; fail "exit code $code after SIGTERM"; }
ok "SIGTERM: exit code 0"

echo "container-test took $(( $(date +%s) - start )) s"
echo "container-test: $passed passed, 0 failed"
