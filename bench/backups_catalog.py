"""Benchmark: `listbackups` and `prunebackups --dry-run` with 100,000 runs against the same commands with 1,000.

    .venv/bin/python bench/backups_catalog.py                  # 1,000 vs 100,000 runs
    .venv/bin/python bench/backups_catalog.py --runs 300000 --repeat 3

It creates a scratch PostgreSQL database (dropped at the end), migrates it, inserts the runs with SQL (each with a
2 KB log, one artifact, a failed run in 17, a safety backup in 29), and runs the commands in this process with
call_command, output into memory, printing the median and the fastest of --repeat runs, the ratio large / small
and the SQL queries of each. `listbackups` is also run as its own process (`manage.py listbackups`), beside
`manage.py listbackups --help` (Django's start-up and nothing else), so the start-up is named apart.
Targets (issue 20 item 4): a page of `listbackups` under 0.5 s at 100,000 runs, flat (ratio ≈ 1); the prune
decision linear (ratio ≈ 100 for 100× the runs) and under 1 s at 100,000 runs.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from bench.scratch_database import scratch_database

    with scratch_database("bench_catalog") as name:
        run(args, name)


def run(args, name: str) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.seed_runs import insert_runs

    call_command("migrate", verbosity=0)

    def insert(low: int, high: int) -> None:
        insert_runs(low, high, name, artifacts=True)

    def deep_id() -> str:
        with connection.cursor() as cursor:  # a run half-way down the history: page 1,000 of 50 at 100,000
            cursor.execute(
                "SELECT id FROM backups_backuprun ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
                [BackupRunCount.value // 2],
            )
            return str(cursor.fetchone()[0])

    commands = {
        "listbackups": lambda: ["listbackups"],
        "listbackups --json": lambda: ["listbackups", "--json"],
        "listbackups --before (middle)": lambda: ["listbackups", "--before", deep_id()],
        "prunebackups --dry-run": lambda: ["prunebackups", "--dry-run"],
    }

    def before_listing() -> None:
        # What listbackups did before issue 20: every run, full rows (logs), artifacts prefetched, then printed.
        from backups.management.commands._output import human_bytes
        from backups.models import BackupRun

        out = io.StringIO()
        for run in BackupRun.objects.prefetch_related("artifacts").order_by("-created_at", "-id"):
            out.write(f"{run.pk:>6}  {run.status:<10} {run.trigger:<9} {run.created_at:%Y-%m-%d %H:%M:%S}  ")
            out.write(f"{human_bytes(run.total_bytes):>10}  {run.verification or '-'}\n")

    def before_prune_decision() -> None:
        # What the prune's decision read before issue 20: model instances with their logs.
        from django.utils import timezone

        from backups.models import BackupRun
        from backups.services.retention import RetentionPolicy, retention_decide

        fields = ("id", "status", "trigger", "only", "created_at", "pinned", "verification", "storage_prefix", "log")
        runs = BackupRun.objects.filter(kind=BackupRun.Kind.LOGICAL).only(*fields)
        retention_decide(runs=runs, policy=RetentionPolicy.from_settings(), now=timezone.now())

    def prune_decision() -> None:
        from backups.services.retention import backup_runs_prune

        backup_runs_prune(dry_run=True)

    calls = {
        "before: listing every run": before_listing,
        "before: prune decision": before_prune_decision,
        "prune decision (service)": prune_decision,
    }

    def measure() -> dict[str, tuple[float, float, int]]:
        results = {}
        for label, argv in commands.items():
            arguments, times = argv(), []
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    call_command(*arguments, stdout=io.StringIO(), stderr=io.StringIO())
                    times.append(time.perf_counter() - started)
            results[label] = (statistics.median(times), min(times), len(queries))
        for label, call in calls.items():
            times = []
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    call()
                    times.append(time.perf_counter() - started)
            results[label] = (statistics.median(times), min(times), len(queries))
        for label, argv in (("manage.py listbackups --help", ["--help"]), ("manage.py listbackups", [])):
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "manage.py", "listbackups", *argv],
                    cwd=ROOT,
                    check=True,
                    stdout=subprocess.DEVNULL,
                    env=os.environ,
                )
                times.append(time.perf_counter() - started)
            results[label] = (statistics.median(times), min(times), 0)
        return results

    BackupRunCount.value = 1000
    insert(1, 1000)
    small = measure()
    BackupRunCount.value = args.runs
    insert(1001, args.runs)
    large = measure()
    print(
        f"catalog commands: 1,000 runs vs {args.runs:,} runs (median and fastest of {args.repeat}; in process "
        "unless named manage.py)"
    )
    print(f"{'command':<30} {'1,000 runs':>19} {'large':>19} {'ratio':>7} {'queries':>9}")
    for label in small:
        (s_med, s_best, s_q), (l_med, l_best, l_q) = small[label], large[label]
        print(
            f"{label:<30} {s_med * 1000:>8.1f}/{s_best * 1000:<7.1f}ms {l_med * 1000:>8.1f}/{l_best * 1000:<7.1f}ms "
            f"{l_med / s_med:>7.2f} {s_q:>4}/{l_q:<4}"
        )


class BackupRunCount:
    value = 0


if __name__ == "__main__":
    main()
