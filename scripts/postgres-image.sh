#!/usr/bin/env bash
# Build the local image opsportal/postgres:local that the `db-data` tests run (PostgreSQL on its own volume, backed up
# online by pgbackrest inside the container). No image can be pulled here, so it is assembled from the Debian packages
# installed on this machine (postgresql-15, pgbackrest; services.sh installs them): their binaries, their shared files,
# the libraries they link (ldd), busybox for the shell, and a small entrypoint that initialises the volume on first
# start (trust authentication, as the tests' own clusters) and runs postgres with the arguments it is given.
set -euo pipefail
IMAGE="${POSTGRES_TEST_IMAGE:-opsportal/postgres:local}"
docker image inspect "$IMAGE" >/dev/null 2>&1 && exit 0

major="$(ls /usr/lib/postgresql | sort -V | tail -1)"
bin="/usr/lib/postgresql/$major/bin"
for need in "$bin/postgres" "$bin/initdb" /usr/bin/pgbackrest; do
    [ -x "$need" ] || { echo "$need is missing (Debian packages postgresql-$major and pgbackrest)" >&2; exit 1; }
done
busybox=$(command -v busybox) || { echo "busybox is not installed (Debian package busybox-static)" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"  # mktemp makes it 700: the image's / must be open to the user postgres
copy() {  # copy a path with its parents, following symlinks to the file they name (and keeping the link too)
    local path="$1"
    mkdir -p "$root$(dirname "$path")"
    cp -a "$path" "$root$path"
    if [ -L "$path" ]; then copy "$(readlink -f "$path")"; fi
}
# the loader's and the libraries' folders as on this machine (merged /usr: /lib and /lib64 are links into /usr)
for dir in /lib /lib64; do
    if [ -L "$dir" ]; then mkdir -p "$root$(readlink -f "$dir")"; cp -a "$dir" "$root$dir"; fi
done
mkdir -p "$root"/{bin,tmp,etc,run/postgresql,var/lib/postgresql/data,var/lib/pgbackrest,var/log/pgbackrest} \
    "$root"/var/spool/pgbackrest "$root"/etc/pgbackrest
chmod 1777 "$root/tmp"
ln -s ../run "$root/var/run"
cp "$busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
for path in "/usr/lib/postgresql/$major" "/usr/share/postgresql/$major" /usr/share/zoneinfo /usr/bin/pgbackrest; do
    copy "$path"
done
# every shared library the binaries need (the loader first), with the symlinks that name them
{
    for file in "$root/usr/lib/postgresql/$major"/bin/* "$root/usr/lib/postgresql/$major"/lib/*.so /usr/bin/pgbackrest; do
        ldd "$file" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
    done
} | sort -u | while read -r lib; do copy "$lib"; done

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
postgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh
PASSWD
printf 'root:x:0:\npostgres:x:999:\n' >"$root/etc/group"
printf '[global]\nrepo1-path=/var/lib/pgbackrest\nlog-path=/var/log/pgbackrest\nspool-path=/var/spool/pgbackrest\n' \
    >"$root/etc/pgbackrest/pgbackrest.conf"
cat >"$root/entrypoint.sh" <<ENTRY
#!/bin/sh
set -e
PGDATA=/var/lib/postgresql/data
chown postgres:postgres "\$PGDATA" /run/postgresql
chmod 700 "\$PGDATA"
if [ ! -s "\$PGDATA/PG_VERSION" ]; then
    su postgres -s /bin/sh -c "$bin/initdb -D \$PGDATA --auth=trust -E UTF8 --locale=C >/dev/null"
    echo "listen_addresses = '*'" >>"\$PGDATA/postgresql.conf"
    echo "host all all 0.0.0.0/0 trust" >>"\$PGDATA/pg_hba.conf"
fi
quoted=""
for arg in "\$@"; do quoted="\$quoted '\$(printf %s "\$arg" | sed "s/'/'\\\\\\\\''/g")'"; done
exec su postgres -s /bin/sh -c "exec $bin/postgres -D \$PGDATA \$quoted"
ENTRY
chmod 755 "$root/entrypoint.sh"
chown -R 999:999 "$root/var/lib/postgresql" "$root/var/lib/pgbackrest" "$root/var/log/pgbackrest" \
    "$root/var/spool/pgbackrest" "$root/run/postgresql"
tar -C "$root" -c . | docker import \
    --change 'ENTRYPOINT ["/entrypoint.sh"]' --change "ENV PATH=$bin:/usr/bin:/bin" \
    --change 'EXPOSE 5432' - "$IMAGE" >/dev/null
echo "built $IMAGE from the installed postgresql-$major and pgbackrest"
