#!/usr/bin/env bash
# Make sure the services the tests use are up: PostgreSQL and Redis on this machine (started if a command is
# needed), the Docker engine with its helper image, and the command-line tools the backup tests drive (pgbackrest
# among them; and GNU gettext, which the translation catalog test runs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need_apt=()
for tool in dockerd:docker.io busybox:busybox-static age:age zstd:zstd pg_dump:postgresql-client chromium:chromium msgfmt:gettext pgbackrest:pgbackrest; do
    command -v "${tool%%:*}" >/dev/null || need_apt+=("${tool##*:}")
done
# iproute2's `ip netns`: the multi-host test (tests/multihost/) puts each host in a network namespace.
dpkg -s iproute2 >/dev/null 2>&1 || need_apt+=(iproute2)
# A Japanese font: without one Chromium draws every Japanese glyph of the browser tests' pages as a box.
fc-list 2>/dev/null | grep -qi "IPAGothic" || need_apt+=(fonts-ipafont-gothic)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
    pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; exit 1; }
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis did not start" >&2; exit 1; }
fi

bash "$here/docker-engine.sh"
echo "services ready: PostgreSQL $(psql -h 127.0.0.1 -U postgres -Atc 'show server_version' postgres), Redis, Docker"
