# ruff: noqa: B023 (each inner function runs at once, inside the iteration that defines it)
"""Benchmark: physical backup and restore through pgBackRest against the logical dump (pg_dump -Fc | zstd) and
pg_restore, on the same database, interleaved, in one run.

    .venv/bin/python bench/physical.py --size-mb 1024 --rounds 2     # as root: the cluster runs as user postgres

It starts its own cluster (initdb on a spare port, archive_mode=on, archive_command through pgBackRest, repository
compressed with zstd as the portal configures it), fills several indexed tables to the size on disk with data that
compresses about 5:1, then per round: a full pgBackRest backup, a logical dump as the portal streams it (pg_dump -Fc
-Z0 | zstd -3), a pgBackRest restore into a new data directory started until it is promoted and answers (RTO), and a
pg_restore of the dump into a new database (RTO). It prints each time, the medians and the ratios.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
STANZA = "bench"

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS customers (id bigint PRIMARY KEY, name text, email text, country text, notes text);
CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY, customer_id bigint, status text, total numeric(12,2),
                                   placed_at timestamptz, lines jsonb, memo text);
CREATE TABLE IF NOT EXISTS events (id bigint PRIMARY KEY, order_id bigint, kind text, at timestamptz, payload text);
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id);
CREATE INDEX IF NOT EXISTS orders_placed ON orders (placed_at);
CREATE INDEX IF NOT EXISTS events_order ON events (order_id, at);
CREATE INDEX IF NOT EXISTS customers_email ON customers (email);
"""
BATCH_SQL = """
INSERT INTO customers SELECT g, 'Customer ' || g, 'customer' || g || '@example.com',
    (ARRAY['JP','DE','US','FR','BR'])[1 + g %% 5], repeat('regular customer, pays on time. ', 1 + g %% 4)
    FROM generate_series(%(start)s, %(end)s) g;
INSERT INTO orders SELECT g, g %% 50000, (ARRAY['new','paid','shipped','returned'])[1 + g %% 4], (g %% 100000) / 100.0,
    now() - (g || ' minutes')::interval,
    jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (g %% 700), 'qty', 1 + g %% 5, 'price', (g %% 900) / 10.0)),
    'order ' || g || ' standard shipping, invoice by mail ' || md5(g::text) || md5((g * 11)::text)
    FROM generate_series(%(start)s, %(end)s) g;
INSERT INTO events SELECT g, g, (ARRAY['created','paid','packed','shipped'])[1 + g %% 4], now() - (g || ' s')::interval,
    'event for order ' || g || ': status changed by system ' || md5((g * 3)::text)
    FROM generate_series(%(start)s, %(end)s) g;
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_postgres(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, text=True,
                          cwd="/", **kwargs)


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder, self.data, self.port = folder, folder / "data", free_port()
        self.conf = folder / "pgbackrest.conf"

    def setup(self) -> None:
        for sub in ("repo", "log", "lock"):
            (self.folder / sub).mkdir()
        self.conf.write_text(f"[global]\nrepo1-path={self.folder / 'repo'}\nlog-path={self.folder / 'log'}\n"
                             f"lock-path={self.folder / 'lock'}\ncompress-type=zst\nstart-fast=y\n"
                             f"[{STANZA}]\npg1-path={self.data}\npg1-port={self.port}\npg1-socket-path={self.folder}\n")
        subprocess.run(["chown", "-R", "postgres:postgres", str(self.folder)], check=True)
        as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.port}\nunix_socket_directories = '{self.folder}'\n"
                       "listen_addresses = '127.0.0.1'\n"
                       f"archive_mode = on\narchive_command = 'pgbackrest --config={self.conf} --stanza={STANZA} "
                       "archive-push %p'\nmax_wal_size = 2GB\n")
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.folder / "pg.log"), "start")
        self.pgbackrest("stanza-create")

    def pgbackrest(self, *args: str) -> None:
        as_postgres("pgbackrest", f"--config={self.conf}", f"--stanza={STANZA}", *args)

    def url(self, db: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def fill(self, size_mb: int) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(TABLES_SQL)
            start, batch = 1, 200_000
            while conn.execute("SELECT pg_database_size('postgres')").fetchone()[0] < size_mb * 1024 * 1024:
                for statement in filter(str.strip, BATCH_SQL.split(";")):
                    conn.execute(statement, {"start": start, "end": start + batch - 1})
                start += batch
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")

    def stop(self) -> None:
        for pid_file in self.folder.rglob("postmaster.pid"):
            subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(pid_file.parent),
                            "-m", "immediate", "stop"], capture_output=True)


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-physical-"))
    shutil.chown(folder, "postgres", "postgres")
    cluster = Cluster(folder)
    try:
        cluster.setup()
        cluster.fill(args.size_mb)
        with psycopg.connect(cluster.url()) as conn:
            size = conn.execute("SELECT pg_database_size('postgres')").fetchone()[0]
        print(f"database: {size / 2**20:.0f} MB on disk, PostgreSQL {PG_BIN.parent.name}, pgBackRest "
              f"{subprocess.run(['pgbackrest', 'version'], capture_output=True, text=True).stdout.split()[-1]}")
        dump = folder / "dump.pgc.zst"
        raw_size = folder / "dump-raw-bytes"
        times: dict[str, list[float]] = {k: [] for k in ("pgbackrest backup", "pg_dump | zstd", "pgbackrest restore",
                                                           "pg_restore")}
        for round_number in range(1, args.rounds + 1):
            times["pgbackrest backup"].append(timed(lambda: cluster.pgbackrest("backup", "--type=full")))

            def logical_dump() -> None:
                command = (f"{PG_BIN / 'pg_dump'} -Fc -Z0 '{cluster.url()}' | tee >(wc -c > {raw_size}) "
                           f"| zstd -3 -q -f -o {dump}")
                subprocess.run(["bash", "-c", command], check=True)

            times["pg_dump | zstd"].append(timed(logical_dump))
            target = folder / f"restored{round_number}"
            port = free_port()

            def physical_restore() -> None:
                target.mkdir()
                shutil.chown(target, "postgres", "postgres")
                target.chmod(0o700)
                cluster.pgbackrest("restore", f"--pg1-path={target}", "--archive-mode=off")
                with (target / "postgresql.auto.conf").open("a") as auto:
                    auto.write(f"port = {port}\n")
                as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(target), "-w", "-t", "600", "-l",
                            str(folder / f"r{round_number}.log"), "start")
                while True:
                    with psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres") as conn:
                        if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                            conn.execute("SELECT count(*) FROM orders").fetchone()
                            return
                    time.sleep(0.2)

            times["pgbackrest restore"].append(timed(physical_restore))
            as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(target), "-m", "immediate", "stop")
            shutil.rmtree(target)
            database = f"restored{round_number}"

            def logical_restore() -> None:
                with psycopg.connect(cluster.url(), autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {database}")
                command = f"zstd -d -q -c {dump} | {PG_BIN / 'pg_restore'} --exit-on-error -d '{cluster.url(database)}'"
                subprocess.run(command, shell=True, check=True)  # noqa: S602 (fixed command, our own paths)

            times["pg_restore"].append(timed(logical_restore))
            with psycopg.connect(cluster.url(), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE {database}")
            print(f"round {round_number}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
        medians = {k: statistics.median(v) for k, v in times.items()}
        with psycopg.connect(cluster.url()) as conn:
            repo = subprocess.run(["du", "-sb", str(folder / "repo" / "backup")], capture_output=True,
                                  text=True).stdout.split()[0]
        print(f"stored: pgBackRest repository {int(repo) / 2**20:.0f} MB for {args.rounds} full backups, "
              f"logical dump {dump.stat().st_size / 2**20:.0f} MB; the data compresses "
              f"{int(raw_size.read_text()) / dump.stat().st_size:.1f}:1 (uncompressed dump / zstd -3)")
        for name, value in medians.items():
            print(f"median {name}: {value:.1f} s")
        print(f"backup: pgBackRest / logical = {medians['pgbackrest backup'] / medians['pg_dump | zstd']:.2f}")
        print(f"RTO: pgBackRest restore / pg_restore = {medians['pgbackrest restore'] / medians['pg_restore']:.2f}")
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
