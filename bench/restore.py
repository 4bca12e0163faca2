"""Benchmark: the portal's in-place restore (pg_restore -j into a new database, then the swap) against a plain
`pg_restore -j 2` into a new database, interleaved, in one run (issue 20, target 3: <= 1.05x).

    .venv/bin/python bench/restore.py                          # 128 MB on disk, 3 rounds (a few minutes)
    .venv/bin/python bench/restore.py --size-mb 1024 --rounds 3

It creates a database, migrates the portal's schema into it, fills several indexed tables (bench/physical.py's
customers, orders, events: data that compresses about 5:1) to the size on disk, takes one `manage.py backup`
(zstd 3, as configured) and one plain `pg_dump -Fc -Z0` file. Then per round, in turn:

- plain (the baseline, like for like): `createdb` + `pg_restore -j 2 --no-owner` of the very dump bytes the portal
  restores (the stored artifact decoded once with `zstd -d` to a file before the rounds), into a new database;
- plain, file dump (informational): the same of the `pg_dump -Fc -Z0` file, which pg_dump wrote with the data
  offsets in its table of contents (the portal's dump went through a pipe, so its TOC has none);
- portal: a process that starts Django and runs the restore step of `manage.py restore` over that database:
  decode the stored artifact to a file, `pg_restore -j BACKUP_RESTORE_JOBS` into `<name>__restoring_<id>`, check
  the migrations and re-index the catalog inside it, swap it in (one transaction), drop the previous one. Timed
  inside (the step) and outside (with Python start-up); no safety backup;
- full (informational): `manage.py restore RUN --yes`, which also takes the safety backup and migrates and re-indexes
  the catalog inside the new database before the swap.

- compare (with `--compare-checkout DIR`): the same restore step run from another checkout (e.g. a git worktree of
  the previous commit), interleaved, so a change is measured against its predecessor in the same conditions.

It prints every time, the medians and best, the ratios to plain and the load average at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.physical import BATCH_SQL, TABLES_SQL  # noqa: E402

STEP = """
import os, sys, time, django
django.setup()
from django.db import connections
from backups.models import BackupArtifact
from backups.services.catalog import backup_catalog_reindex
from backups.services.restore import _in_database, _migrate_restored_schema
from backups.services.swap import swap_restore
artifact = BackupArtifact.objects.get(run_id=int(sys.argv[1]), kind="database", name="default")
db = dict(connections["default"].settings_dict)
connections["default"].close()

def repair():  # as the restore does inside the new database, before the swap
    print(f"{time.monotonic() - started:7.2f} repair", file=sys.stderr)
    _migrate_restored_schema(lambda line: None)
    print(f"{time.monotonic() - started:7.2f} migrations checked", file=sys.stderr)
    backup_catalog_reindex()
    print(f"{time.monotonic() - started:7.2f} re-indexed", file=sys.stderr)

def log(line):
    print(f"{time.monotonic() - started:7.2f} {line[:90]}", file=sys.stderr)

started = time.monotonic()
later = []
swap_restore(db, artifact, int(sys.argv[2]), log=log, prepare=lambda new_db: _in_database(new_db["NAME"], repair),
             later=later)
print(f"STEP {time.monotonic() - started:.3f}")  # the restored database is live (the restore would record itself)
for work in later:
    work()  # the previous database dropped, after the step as in manage.py restore
"""


def size_of(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def fill(url: str, size_mb: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLES_SQL)
        start, batch = 1, 50_000
        while size_of(url) < size_mb * 1024 * 1024:
            psycopg.ClientCursor(conn).execute(BATCH_SQL, {"start": start, "end": start + batch - 1})  # 3 statements
            start += batch
        conn.execute("VACUUM ANALYZE")


def timed(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if os.environ.get("BENCH_VERBOSE"):
        print(done.stderr, file=sys.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-1500:]}\n{done.stderr[-2000:]}")
    return time.monotonic() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=128, help="database size on disk")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--database", default="opsportal_restore_bench", help="scratch database (created, dropped)")
    parser.add_argument("--full", action="store_true", help="also time `manage.py restore --yes` each round")
    parser.add_argument(
        "--compare-checkout",
        type=Path,
        help="also run the restore step from another checkout "
        "(e.g. a git worktree of the previous commit), interleaved with the rest",
    )
    args = parser.parse_args()
    url = f"{args.server}/{args.database}"
    plain_db = f"{args.database}_plain"
    admin = f"{args.server}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (args.database, plain_db):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    work = Path(tempfile.mkdtemp(prefix="opsportal-restore-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "opsportal.settings",
        "ENV_FILE": "",
        "VAR_DIR": str(work / "var"),
        "SECRET_KEY": "bench-only",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": "filesystem://",
        "BACKUP_FILES": "",
        "BACKUP_DOCKER_VOLUMES": "",
        "BACKUP_DIR": str(work / "backups"),
        "BACKUP_RESTORE_JOBS": "2",
        "PYTHONPATH": str(ROOT),
    }
    pg_env = {**env, "PGHOST": "127.0.0.1", "PGUSER": "postgres"}
    python = sys.executable
    times: dict[str, list[float]] = {"plain": [], "file": [], "step": [], "portal": [], "compare": [], "full": []}
    loads = [os.getloadavg()[0]]
    other = args.compare_checkout.resolve() if args.compare_checkout else None
    try:
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        fill(url, args.size_mb)
        on_disk = size_of(url)
        timed([python, "manage.py", "backup"], env)
        with psycopg.connect(url) as conn:
            run_id = conn.execute("SELECT max(id) FROM backups_backuprun WHERE status = 'succeeded'").fetchone()[0]
        dump = work / "plain.pgdump"
        with dump.open("wb") as out:
            subprocess.run(["pg_dump", "-Fc", "-Z0", "-d", args.database], env=pg_env, stdout=out, check=True)
        dump_mb = dump.stat().st_size / 1024 / 1024
        stored = list((work / "backups").rglob("*.zst"))  # the database's artifact alone (no files, no volumes)
        stored_mb = sum(p.stat().st_size for p in stored) / 1024 / 1024
        same = work / "same.pgdump"  # the dump bytes the portal restores
        subprocess.run(
            ["zstd", "-d", "-q", "-f", str(max(stored, key=lambda p: p.stat().st_size)), "-o", str(same)], check=True
        )
        for round_ in range(1, args.rounds + 1):
            for key, source in (("plain", same), ("file", dump)):
                seconds, _ = timed(
                    [
                        "sh",
                        "-c",
                        f'createdb "{plain_db}" && pg_restore -j 2 --no-owner '
                        f'--exit-on-error -d "{plain_db}" "{source}"',
                    ],
                    pg_env,
                )
                times[key].append(seconds)
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE "{plain_db}" WITH (FORCE)')
            seconds, output = timed([python, "-c", STEP, str(run_id), str(900_000 + round_)], env)
            times["portal"].append(seconds)
            times["step"].append(float(output.split("STEP ")[1]))
            if other is not None:
                _, output = timed(
                    [python, "-c", STEP, str(run_id), str(910_000 + round_)],
                    {**env, "PYTHONPATH": str(other)},
                    cwd=other,
                )
                times["compare"].append(float(output.split("STEP ")[1]))
            loads.append(os.getloadavg()[0])
            if args.full:
                seconds, _ = timed([python, "manage.py", "restore", str(run_id), "--yes"], env)
                times["full"].append(seconds)
            print(
                f"round {round_}: plain {times['plain'][-1]:.2f}s  file dump {times['file'][-1]:.2f}s  "
                f"portal step {times['step'][-1]:.2f}s  "
                + (f"compare step {times['compare'][-1]:.2f}s  " if other else "")
                + f"load {loads[-1]:.1f}  "
                f"portal process {times['portal'][-1]:.2f}s"
                + (f"  full {times['full'][-1]:.2f}s" if args.full else ""),
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in (args.database, plain_db):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    plain = times["plain"]
    print(
        f"\ndatabase {on_disk / 1024 / 1024:.0f} MB on disk, dump {dump_mb:.0f} MB, stored {stored_mb:.0f} MB "
        f"(zstd 3, unencrypted), {args.rounds} interleaved rounds, BACKUP_RESTORE_JOBS=2; load average (1 min) "
        f"{min(loads):.1f}-{max(loads):.1f} ({os.cpu_count()} CPUs)"
    )
    print(f"{'':28}{'median':>9}{'best':>9}{'ratio median':>14}{'ratio best':>12}")
    rows = [
        ("pg_restore -j 2 (plain)", plain),
        ("  of the pg_dump file", times["file"]),
        ("portal restore step", times["step"]),
        ("portal, with process start", times["portal"]),
    ]
    if times["compare"]:
        rows.append((f"step of {other.name}"[:27], times["compare"]))
    if times["full"]:
        rows.append(("manage.py restore (full)", times["full"]))
    for label, values in rows:
        print(
            f"{label:28}{statistics.median(values):>8.2f}s{min(values):>8.2f}s"
            f"{statistics.median(values) / statistics.median(plain):>14.2f}{min(values) / min(plain):>12.2f}"
        )
    print("target: portal restore step / pg_restore -j 2 <= 1.05")


if __name__ == "__main__":
    main()
