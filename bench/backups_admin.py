"""Benchmark: the backup runs changelist with 100,000 runs against the same page with 1,000 runs.

    .venv/bin/python bench/backups_admin.py                 # 1,000 vs 100,000 runs
    .venv/bin/python bench/backups_admin.py --runs 300000

It creates a scratch PostgreSQL database (dropped at the end), migrates it, inserts the runs with SQL, and requests
the changelist (first page, then filtered by status, then a search by id) with Django's test client, in the same
process, printing the fastest of --repeat timings, the ratio large / small and the number of SQL queries of each.
Target: the ratio stays near 1 (no full scan per page, no query per row) and the query count is the same.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--show-sql", action="store_true", help="print each query of the last request and its time")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from bench.scratch_database import scratch_database

    with scratch_database("bench_bkadmin") as name:
        run(args, name)


def run(args, name: str) -> None:
    import os

    import django

    # Request timing writes its buffered rows at exit, after the scratch database is dropped: off here, it is not
    # what this bench measures (bench/middleware.py does).
    os.environ["PERF_REQUEST_TIMING"] = "false"

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.seed_runs import insert_runs

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    user = User.objects.create_superuser("bench", "bench@example.com", "x")
    client = Client()
    client.force_login(user)

    def insert(start: int, stop: int) -> None:
        insert_runs(start, stop, name)

    pages = {
        "first page": "/admin/backups/backuprun/",
        "failed only": "/admin/backups/backuprun/?status__exact=failed",
        "search by id": "/admin/backups/backuprun/?q=777",
    }

    def measure() -> dict[str, tuple[float, int]]:
        results = {}
        for label, url in pages.items():
            best = float("inf")
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = client.get(url)
                    best = min(best, time.perf_counter() - started)
                assert response.status_code == 200, response.status_code
            results[label] = (best, len(queries))
            if args.show_sql:
                for query in queries.captured_queries:
                    print(f"  {label}: {query['time']}s {query['sql'][:160]}")
        return results

    # 1,000 runs: enough failed ones (1 in 17) that every page below is a full page of 50 rows in both cases.
    insert(1, 1000)
    small = measure()
    insert(1001, args.runs)
    large = measure()
    print(f"backup runs changelist: 1,000 runs vs {args.runs:,} runs (fastest of {args.repeat})")
    print(f"{'page':<14} {'1,000 runs':>10} {'large':>10} {'ratio':>7} {'queries':>9}")
    for label in pages:
        (s_time, s_queries), (l_time, l_queries) = small[label], large[label]
        print(
            f"{label:<14} {s_time * 1000:>8.1f}ms {l_time * 1000:>8.1f}ms {l_time / s_time:>7.2f} "
            f"{s_queries:>4}/{l_queries:<4}"
        )


if __name__ == "__main__":
    main()
