#!/usr/bin/env bash
# Make sure a Docker engine answers at $DOCKER_HOST (default unix:///var/run/docker.sock) and that the local
# helper images exist. Starts dockerd the way this kind of machine allows (no iptables, no bridge, vfs storage).
# No image can be pulled here, so the helper image is imported from a folder holding busybox and its links.
set -euo pipefail
DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"
export DOCKER_HOST
IMAGE="${BACKUP_DOCKER_IMAGE:-opsportal/busybox:local}"
DATA_ROOT="${DOCKER_DATA_ROOT:-/var/lib/opsportal-docker}"
LOG="${DOCKER_LOG:-/var/log/opsportal-dockerd.log}"

if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || { echo "dockerd is not installed (Debian package docker.io)" >&2; exit 1; }
    mkdir -p "$DATA_ROOT"
    nohup dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
        --data-root "$DATA_ROOT" -H "$DOCKER_HOST" >"$LOG" 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    busybox=$(command -v busybox || true)
    [ -n "$busybox" ] || { echo "busybox is not installed (Debian package busybox-static)" >&2; exit 1; }
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    mkdir -p "$root/bin" "$root/tmp" "$root/data"
    cp "$busybox" "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
        [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
    done
    tar -C "$root" -c . | docker import --change 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
fi
bash "$(dirname "$0")/postgres-image.sh"   # the `db-data` tests' PostgreSQL image, from the installed packages
echo "docker engine ready at $DOCKER_HOST with images $IMAGE and ${POSTGRES_TEST_IMAGE:-opsportal/postgres:local}"
