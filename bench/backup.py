"""Benchmark: `manage.py backup` against pg_dump pipelines and django-dbbackup, like for like, interleaved.

    .venv/bin/pip install -r bench/requirements-backup.txt
    .venv/bin/python bench/backup.py                                   # 256 MB, 3 rounds (a few minutes)
    .venv/bin/python bench/backup.py --size-mb 256 --size-mb 1024      # RSS must stay flat as the database grows

The database comes from bench/dataset.py (five tables with indexes, text/jsonb/numeric/bytea, ≈5:1 with zstd -3;
the achieved ratio is printed). Each round runs every command once, in the same order (A B C D, A B C D, ...), so
a busy neighbour slows all of them alike; the figures are the median and the best of the rounds:

  A  pg_dump -Fc -Z0 > /dev/null                       dump only: the floor
  B  pg_dump -Fc -Z0 | zstd -<level> > file           the honest baseline: same compression, written to disk
  C  django-dbbackup `dbbackup` (PgDumpBinaryConnector: pg_dump --format=custom with its built-in gzip; no -z,
     which would gzip an already compressed dump)
  D  the portal's `manage.py backup` with production-like settings: PostgreSQL DATABASE_URL, BACKUP_ZSTD_LEVEL,
     age encryption to one recipient (README), database only (BACKUP_FILES empty)

Peak RSS is the whole process tree's (the command and every descendant, summed, sampled every 20 ms). "Start-up" is
the time from launching a command until its pg_dump child appears. Targets (issue 20): D ≤ 1.05× B at 1 GB,
start-up ≤ 0.3 s, peak RSS ≤ 150 MB and flat across sizes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dataset import dump_compression_ratio, grow_to  # noqa: E402

MB = 1024 * 1024
APPS = ("opsportal", "backups", "monitoring", "performance", "alerting")  # compiled first: start-up as in production


def tree_rss(handle: psutil.Process) -> tuple[int, bool]:
    """RSS of a process and all its descendants, and whether pg_dump is among them."""
    total, dumping = 0, False
    for proc in [handle, *handle.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
            dumping = dumping or proc.name() == "pg_dump"
        except psutil.NoSuchProcess:
            continue
    return total, dumping


def measure(command: list[str], env: dict[str, str], *, shell: bool = False) -> dict[str, float]:
    """Wall seconds, peak RSS of the whole tree (bytes) and seconds until pg_dump started."""
    started = time.monotonic()
    process = subprocess.Popen(
        command if not shell else ["sh", "-c", command[0]],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak, dump_started = 0, None
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, dump_started
        try:
            handle = psutil.Process(process.pid)
            while not done.is_set():
                rss, dumping = tree_rss(handle)
                peak = max(peak, rss)
                if dumping and dump_started is None:
                    dump_started = time.monotonic() - started
                time.sleep(0.02)
        except psutil.NoSuchProcess:
            return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    return {"seconds": elapsed, "rss": peak, "startup": dump_started if dump_started is not None else float("nan")}


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, action="append", help="database size on disk (repeatable; 256)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size (3)")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--database", default="opsportal_bk_bench", help="scratch database (created, dropped)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-encryption", action="store_true", help="run the portal's backup without age")
    parser.add_argument("--compare-checkout", type=Path, help="also run E: another checkout's manage.py backup "
                        "(e.g. a git worktree of the previous commit), interleaved with the rest")
    parser.add_argument("--skip-dbbackup", action="store_true", help="leave out C (django-dbbackup not installed)")
    args = parser.parse_args()
    sizes = sorted(args.size_mb or [256])
    url = f"{args.server}/{args.database}"
    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    work = Path(tempfile.mkdtemp(prefix="opsportal-bench-"))
    level = os.environ.get("BACKUP_ZSTD_LEVEL", "3")
    env = {
        # Bytecode cached as in production (a shell or CI may set PYTHONDONTWRITEBYTECODE, which recompiles every
        # module on every start and counted as start-up).
        **{key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"},
        "DJANGO_SETTINGS_MODULE": "opsportal.settings",
        "ENV_FILE": "",
        "VAR_DIR": str(work / "var"),
        "SECRET_KEY": "bench-only",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": "filesystem://",
        "BACKUP_FILES": "",
        "BACKUP_ZSTD_LEVEL": level,
        "BENCH_DBBACKUP_DIR": str(work / "dbbackup"),
    }
    encryption = "unencrypted"
    if not args.no_encryption:
        key = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True)
        recipient = next(line.split(": ", 1)[1] for line in key.stderr.splitlines() if line.startswith("Public key"))
        env["BACKUP_AGE_RECIPIENTS"] = recipient
        encryption = "age to 1 recipient"
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "-m", "compileall", "-q", *(str(ROOT / app) for app in APPS)], env=env, check=False)
    pg_env = {**env, "PGDATABASE": args.database, "PGHOST": "127.0.0.1", "PGUSER": "postgres"}
    dbbackup_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.dbbackup_settings", "PYTHONPATH": str(ROOT)}
    pipe_file = work / "dump.zst"
    commands = {
        "A pg_dump > /dev/null": (["pg_dump -Fc -Z0 > /dev/null"], pg_env, True, None),
        f"B pg_dump | zstd -{level}": ([f"pg_dump -Fc -Z0 | zstd -{level} -q > {pipe_file}"], pg_env, True, pipe_file),
        **({} if args.skip_dbbackup else {
            "C dbbackup (no -z)": ([python, "manage.py", "dbbackup"], dbbackup_env, False, work / "dbbackup"),
        }),
        "D manage.py backup": (
            [python, "manage.py", "backup"],
            {**env, "BACKUP_DIR": str(work / "ours")},
            False,
            work / "ours",
        ),
    }
    if args.compare_checkout:
        other = args.compare_checkout.resolve()
        subprocess.run([python, "-m", "compileall", "-q", *(str(other / app) for app in APPS)], env=env, check=False)
        commands[f"E backup ({other.name})"] = (
            [python, str(other / "manage.py"), "backup"],
            {**env, "BACKUP_DIR": str(work / "other")},
            False,
            work / "other",
        )
    print(
        f"settings: A/B pg_dump -Fc -Z0, zstd -{level}; C django-dbbackup 5.4.0 PgDumpBinaryConnector (pg_dump "
        f"--format=custom, default gzip), no -z; D BACKUP_ZSTD_LEVEL={level}, {encryption}, PostgreSQL DATABASE_URL, "
        f"database only. {args.rounds} interleaved rounds; load average at start "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs, shared)"
    )
    try:
        for size_mb in sizes:
            on_disk = grow_to(url, size_mb)
            raw, compressed = dump_compression_ratio(pg_env, level=int(level))
            help_seconds = []
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
            stored: dict[str, int] = {}
            for _ in range(args.rounds):
                for name, (command, cmd_env, shell, output) in commands.items():
                    (work / "dbbackup").mkdir(exist_ok=True)
                    runs[name].append(measure(command, cmd_env, shell=shell))
                    if output is not None:
                        stored[name] = folder_size(output) if output.is_dir() else output.stat().st_size
                        shutil.rmtree(output, ignore_errors=True) if output.is_dir() else output.unlink()
                started = time.monotonic()
                subprocess.run(
                    [python, "manage.py", "backup", "--help"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
                )
                help_seconds.append(time.monotonic() - started)
            report(size_mb, on_disk, raw, compressed, runs, stored, help_seconds, level)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


def report(size_mb, on_disk, raw, compressed, runs, stored, help_seconds, level) -> None:
    print(
        f"\n{on_disk / MB:.0f} MB on disk (asked {size_mb}); pg_dump -Fc -Z0 {raw / MB:.0f} MB, zstd -{level} "
        f"{compressed / MB:.0f} MB: ratio {raw / compressed:.1f}:1"
    )
    medians = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    bests = {name: min(r["seconds"] for r in rs) for name, rs in runs.items()}
    base = next(name for name in runs if name.startswith("B"))
    floor = next(name for name in runs if name.startswith("A"))
    print(
        f"{'command':<22} {'median':>8} {'best':>7} {'/B med':>7} {'/B best':>8} {'/A med':>7} "
        f"{'peak RSS':>9} {'start-up':>9} {'stored':>8}"
    )
    for name, rs in runs.items():
        startup = statistics.median(r["startup"] for r in rs)
        print(
            f"{name:<22} {medians[name]:>7.2f}s {bests[name]:>6.2f}s {medians[name] / medians[base]:>7.2f} "
            f"{bests[name] / bests[base]:>8.2f} {medians[name] / medians[floor]:>7.2f} "
            f"{max(r['rss'] for r in rs) / MB:>6.0f} MB {startup:>8.2f}s "
            f"{stored[name] / MB if name in stored else 0:>5.1f} MB"
        )
    print(
        f"manage.py backup --help: median {statistics.median(help_seconds):.2f}s, best {min(help_seconds):.2f}s "
        "(Django start-up and imports)"
    )
    print("ratios: /B = against pg_dump | zstd (target D ≤ 1.05 at 1 GB); /A = against the bare dump")


if __name__ == "__main__":
    main()
