"""Benchmark: `manage.py backup` against bare `pg_dump -Fc -Z0 > /dev/null` and django-dbbackup's `dbbackup -z`.

    .venv/bin/pip install -r bench/requirements-backup.txt
    .venv/bin/python bench/backup.py --size-mb 1024            # the issue's size (a few minutes here)
    .venv/bin/python bench/backup.py --size-mb 256 --size-mb 1024   # RSS must stay flat as the database grows

It builds a PostgreSQL database of realistic rows (text, jsonb, numeric, bytea) up to each size on disk, then
times the three commands on it in the same run and prints the ratios. Targets: backup / pg_dump <= 1.15, faster than
dbbackup, peak RSS of the backup process <= 150 MB and flat across sizes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent

ROWS_SQL = """
INSERT INTO bench_documents (title, body, doc, amount, blob, created)
SELECT
    'Invoice ' || g || ' for customer ' || (g %% 9973),
    repeat(md5(g::text) || ' lorem ipsum dolor sit amet, consectetur adipiscing elit ', 6 + g %% 8),
    jsonb_build_object('id', g, 'customer', g %% 9973, 'lines',
        jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (g %% 500), 'qty', g %% 7, 'price', (g %% 1000) / 10.0)),
        'tags', jsonb_build_array('alpha', 'beta', md5((g * 7)::text))),
    (g %% 100000) / 100.0,
    decode(md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) || md5((g + 3)::text), 'hex'),
    now() - (g || ' seconds')::interval
FROM generate_series(%s, %s) AS g
"""


def database_size(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def grow_to(url: str, size_mb: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_documents (id bigserial PRIMARY KEY, title text, body text, "
            "doc jsonb, amount numeric(14, 2), blob bytea, created timestamptz)"
        )
        start = conn.execute("SELECT coalesce(max(id), 0) FROM bench_documents").fetchone()[0] + 1
        batch = 100_000
        while database_size(url) < size_mb * 1024 * 1024:
            conn.execute(ROWS_SQL, [start, start + batch - 1])
            start += batch
        conn.execute("VACUUM ANALYZE bench_documents")


def measure(command: list[str], env: dict[str, str], *, stdout=subprocess.DEVNULL) -> tuple[float, int]:
    """Wall seconds and the peak RSS (bytes) of the command's own process, sampled every 20 ms."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        handle = psutil.Process(process.pid)
        while not done.is_set():
            try:
                peak = max(peak, handle.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    return elapsed, peak


def best_of(repeat: int, command: list[str], env: dict[str, str], **kwargs) -> tuple[float, int]:
    """The fastest of `repeat` runs (a shared machine only ever adds noise) and the highest peak RSS."""
    runs = [measure(command, env, **kwargs) for _ in range(repeat)]
    return min(seconds for seconds, _ in runs), max(rss for _, rss in runs)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, action="append", help="database size on disk (repeatable)")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--database", default="opsportal_bk_bench", help="scratch database (created, dropped)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--repeat", type=int, default=1, help="time each command N times, keep the fastest")
    args = parser.parse_args()
    sizes = sorted(args.size_mb or [1024])
    url = f"{args.server}/{args.database}"
    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    work = Path(tempfile.mkdtemp(prefix="opsportal-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "opsportal.settings",
        "ENV_FILE": "",
        "VAR_DIR": str(work / "var"),
        "SECRET_KEY": "bench-only",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": "filesystem://",
        "BACKUP_FILES": "",
        "BENCH_DBBACKUP_DIR": str(work / "dbbackup"),
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    pg_env = {**env, "PGDATABASE": args.database, "PGHOST": "127.0.0.1", "PGUSER": "postgres"}
    results = []
    try:
        for size_mb in sizes:
            grow_to(url, size_mb)
            on_disk = database_size(url)
            with open(os.devnull, "wb") as devnull:
                dump_seconds, _ = best_of(args.repeat, ["pg_dump", "-Fc", "-Z0"], pg_env, stdout=devnull)
            backup_dir = work / f"backups-{size_mb}"
            ours_seconds, ours_rss = best_of(
                args.repeat, [python, "manage.py", "backup"], {**env, "BACKUP_DIR": str(backup_dir)}
            )
            (work / "dbbackup").mkdir(exist_ok=True)
            theirs_seconds, theirs_rss = best_of(
                args.repeat,
                [python, "manage.py", "dbbackup", "-z"],
                {**env, "DJANGO_SETTINGS_MODULE": "bench.dbbackup_settings", "PYTHONPATH": str(ROOT)},
            )
            results.append(
                {
                    "size": on_disk,
                    "pg_dump": dump_seconds,
                    "ours": ours_seconds,
                    "ours_rss": ours_rss,
                    "ours_stored": folder_size(backup_dir) // args.repeat,
                    "dbbackup": theirs_seconds,
                    "dbbackup_rss": theirs_rss,
                    "dbbackup_stored": folder_size(work / "dbbackup") // args.repeat,
                }
            )
            shutil.rmtree(backup_dir, ignore_errors=True)
            shutil.rmtree(work / "dbbackup", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')

    mb = 1024 * 1024
    print(
        f"{'db on disk':>11} {'pg_dump':>8} {'backup':>8} {'ratio':>6} {'dbbackup -z':>12} {'ratio':>6} "
        f"{'backup RSS':>11} {'dbbackup RSS':>13} {'stored':>9} {'dbbackup stored':>16}"
    )
    for r in results:
        print(
            f"{r['size'] / mb:>8.0f} MB {r['pg_dump']:>7.1f}s {r['ours']:>7.1f}s {r['ours'] / r['pg_dump']:>6.2f} "
            f"{r['dbbackup']:>11.1f}s {r['dbbackup'] / r['ours']:>6.2f} {r['ours_rss'] / mb:>8.0f} MB "
            f"{r['dbbackup_rss'] / mb:>10.0f} MB {r['ours_stored'] / mb:>6.0f} MB {r['dbbackup_stored'] / mb:>13.0f} MB"
        )
    print("ratio columns: backup / pg_dump (target <= 1.15); dbbackup / backup (target > 1: we are faster)")


if __name__ == "__main__":
    main()
