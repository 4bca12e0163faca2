"""Benchmark: server time of the health history dashboard for every range over a year of minute data.

Seeds the year the way bench/health.py does (`seeddemo --days 365`, its own database), adds what the dashboard
draws besides monitoring's series (hourly probe rollups for a year, 14 days of per-minute request timings on four
routes and a year of hourly request rollups, a nightly backup run with a few failures, alert transitions), then
times, per range, in interleaved rounds (each round: baseline, selector cold, view cold, view warm; median and best):

- the selector `dashboard_history` (every chart, the check timeline, markers, backup history), and
- the data view as the browser calls it (the selector plus JSON encoding),

against a baseline timed in the same rounds: monitoring's own 1-year history query from bench/health.py (the demo
series and five check histories), which the dashboard builds on.

    .venv/bin/python bench/dashboard.py [--raw-days 7] [--skip-seed] [--runs 5]

BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/opsportal_bench) and BENCH_REDIS_URL as in
bench/health.py; `--raw-days 365` seeds a full year of raw minutes (about 4 minutes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.health import bench_env, ensure_database, seed_history  # noqa: E402 - after the path is set

RANGES = ["1h", "24h", "7d", "30d", "1y"]


# --- run inside Django (manage.py shell) ---------------------------------------------------------------------------
def seed_dashboard_extras() -> None:
    """Probe rollups, request timings, backup runs and alert transitions for the year just seeded."""
    import random
    from datetime import timedelta

    from django.utils import timezone

    from alerting.models import Alert, AlertRule, AlertTransition
    from backups.models import BackupRun
    from performance.models import PerfRollup, PerfTarget, RequestRollup, RequestStat
    from performance.services import request_stats_rollup

    rng = random.Random(11)  # noqa: S311 - reproducible demo data
    now = timezone.now().replace(second=0, microsecond=0)
    hour0 = now.replace(minute=0) - timedelta(days=365)
    PerfRollup.objects.all().delete()
    RequestStat.objects.all().delete()
    AlertTransition.objects.all().delete()
    BackupRun.objects.all().delete()
    targets = list(PerfTarget.objects.filter(enabled=True))
    PerfRollup.objects.bulk_create([
        PerfRollup(target=target, hour=hour0 + timedelta(hours=index), count=36, failures=0, p50_ms=60,
                   p95_ms=rng.uniform(80, 400), p99_ms=500, max_ms=700)
        for target in targets for index in range(365 * 24)
    ], batch_size=5000)
    routes = ["admin:index", "admin/<app>/<model>/", "api/system/health", "admin:dashboard-history-data"]
    minute0 = now - timedelta(days=14)
    RequestStat.objects.bulk_create([
        RequestStat(minute=minute0 + timedelta(minutes=index), route=route, method="GET", status_class="2xx",
                    count=20, sum_ms=900, max_ms=rng.uniform(100, 900), buckets=[15, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0])
        for index in range(14 * 1440) for route in routes
    ], batch_size=5000)
    # The hourly request rollups: the last 14 days from those minutes, the year before as the hourly task left it.
    RequestRollup.objects.all().delete()
    request_stats_rollup(now=now)
    RequestRollup.objects.bulk_create([
        RequestRollup(hour=hour0 + timedelta(hours=index), count=4 * 60 * 20, sum_ms=4 * 60 * 900,
                      max_ms=rng.uniform(100, 900), buckets=[3600, 480, 240, 240, 240, 0, 0, 0, 0, 0, 0])
        for index in range((minute0 - hour0) // timedelta(hours=1))
    ], batch_size=5000)
    runs = []
    for day in range(365):
        started = now.replace(hour=2, minute=0) - timedelta(days=day)
        failed = day % 47 == 5
        runs.append(BackupRun(status="failed" if failed else "succeeded", trigger="scheduled",
                              total_bytes=0 if failed else 2_000_000_000 - day * 3_000_000, started_at=started,
                              finished_at=started + timedelta(seconds=rng.uniform(60, 90))))
    created = BackupRun.objects.bulk_create(runs)
    for run in created:
        BackupRun.objects.filter(pk=run.pk).update(created_at=run.started_at)
    rule, _ = AlertRule.objects.get_or_create(name="bench: cpu high", defaults={"metric_name": "cpu_percent",
                                                                                "threshold": 80})
    alert, _ = Alert.objects.get_or_create(rule=rule, labels={"host": "web-1"}, defaults={"state": "resolved"})
    AlertTransition.objects.bulk_create([
        AlertTransition(alert=alert, old_state=old, new_state=new,
                        happened_at=now - timedelta(days=day, minutes=offset))
        for day in range(0, 365, 3) for old, new, offset in [("pending", "firing", 30), ("firing", "resolved", 0)]
    ])
    print(f"extras: {PerfRollup.objects.count()} probe rollups, {RequestStat.objects.count()} request stats, "
          f"{RequestRollup.objects.count()} hourly request rollups, "
          f"{len(created)} backup runs, {AlertTransition.objects.count()} alert transitions")


def measure(runs: int = 5) -> None:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import RequestFactory
    from django.utils import timezone

    from dashboards.ranges import time_range_parse
    from dashboards.selectors import _rollup_cache_key, dashboard_history
    from dashboards.views import history_data
    from monitoring.demo import DEMO_HOST, DEMO_PREFIX, GLOBAL_CHECKS, demo_series
    from monitoring.selectors import check_status_history, metric_series_many

    def baseline() -> int:
        start = timezone.now() - timedelta(days=365)
        series = demo_series(["demo-web-1", "demo-worker-1", "demo-worker-2"], DEMO_PREFIX)  # as seeddemo marks them
        found = metric_series_many(series=[(item.name, item.labels) for item in series], start=start)
        return sum(len(points) for points in found.values()) + sum(
            len(check_status_history(check_name=name, host=DEMO_HOST, start=start)) for name in GLOBAL_CHECKS)

    user = get_user_model().objects.filter(is_superuser=True).first() or get_user_model().objects.create_superuser(
        "bench", "bench@example.com", "bench-password-0123")
    factory = RequestFactory()

    # The named ranges and the longest custom range at each resolution (raw, hourly, daily): "any range".
    custom = {"2d": timedelta(days=2), "31d": timedelta(days=31), "366d": timedelta(days=366)}

    def query(key: str) -> dict[str, str]:
        if key in custom:
            now = timezone.now()
            return {"start": (now - custom[key]).isoformat(), "end": now.isoformat()}
        return {"range": key}

    def parsed(key: str):
        asked = query(key)
        return time_range_parse(key=asked.get("range", ""), start=asked.get("start", ""), end=asked.get("end", ""))

    def view(key: str):
        request = factory.get("/admin/dashboard/data.json", query(key))
        request.user = user
        return history_data(request)

    def forget(key: str) -> None:
        time_range = parsed(key)
        cache_key = _rollup_cache_key(start=time_range.start, end=time_range.end)
        if cache_key:
            cache.delete(cache_key)

    def timed(function) -> tuple[float, object]:
        started = time.perf_counter()
        result = function()
        return (time.perf_counter() - started) * 1000, result

    print("\ninterleaved: each round times the baseline (monitoring's 1-year history query, bench/health.py), the")
    print("selector cold, the view cold and the view warm, in that order; median and best of the rounds. cold: the")
    print("rollup part not cached (the first request after a new hourly rollup); warm: cached; 2d, 31d, 366d: custom")
    print("ranges, the longest at each resolution\n")
    print(f"{'range':<6} {'resolution':<10} {'step':>6} {'points':>8} {'baseline':>13} {'selector cold':>14} "
          f"{'view+JSON cold':>15} {'view+JSON warm':>15} {'bytes':>9} {'cold / baseline':>16}")
    colds, bases = {}, []
    for key in [*RANGES, *custom]:
        rows: dict[str, list[float]] = {"base": [], "selector": [], "cold": [], "warm": []}
        for _ in range(runs):
            elapsed, base_points = timed(baseline)
            rows["base"].append(elapsed)
            forget(key)
            elapsed, data = timed(lambda key=key: dashboard_history(time_range=parsed(key)))
            rows["selector"].append(elapsed)
            forget(key)
            elapsed, response = timed(lambda key=key: view(key))
            rows["cold"].append(elapsed)
            assert response.status_code == 200, response.content[:200]
            elapsed, _response = timed(lambda key=key: view(key))
            rows["warm"].append(elapsed)
        points = sum(1 for chart in [*data["charts"], data["backups"]] for series in chart["series"]
                     for value in series["values"] if value is not None)
        points += sum(len(row["bands"]) for row in data["timeline"])
        med = {name: statistics.median(values) for name, values in rows.items()}
        best = {name: min(values) for name, values in rows.items()}
        colds[key] = med["cold"]
        bases.extend(rows["base"])

        cell = {name: f"{med[name]:.0f}/{best[name]:.0f} ms" for name in rows}

        print(f"{key:<6} {data['range']['resolution']:<10} {data['range']['step']:>5}s {points:>8} {cell['base']:>13} "
              f"{cell['selector']:>14} {cell['cold']:>15} {cell['warm']:>15} {len(response.content):>9} "
              f"{med['cold'] / med['base']:>7.2f}/{best['cold'] / best['base']:.2f}x")
    slowest = max(colds, key=colds.get)
    print(f"\nbaseline ({base_points} points): median {statistics.median(bases):.0f} ms over all rounds; figures are "
          f"median/best. Slowest range cold (view + JSON): {slowest}, median {colds[slowest]:.0f} ms; 1 year cold "
          f"{colds['1y']:.0f} ms; target < 300 ms for any range: {'met' if colds[slowest] < 300 else 'NOT met'}")


# --- the driver ------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw-days", type=int, default=7, help="raw minute snapshots seeded (365: a full year)")
    parser.add_argument("--skip-seed", action="store_true", help="time the dashboard on the data already seeded")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsportal_bench")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    env = bench_env(database_url, redis_url)
    ensure_database(database_url, env)
    shell = [sys.executable, "manage.py", "shell", "-c"]
    if not args.skip_seed:
        seed_history(args, env)
        subprocess.run([*shell, "from bench.dashboard import seed_dashboard_extras; seed_dashboard_extras()"],
                       cwd=ROOT, env=env, check=True)
    # What autovacuum does after a bulk load: the covering indexes answer index-only only with a fresh visibility map.
    subprocess.run([sys.executable, "manage.py", "dbshell", "--", "-c", "VACUUM ANALYZE"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*shell, f"from bench.dashboard import measure; measure(runs={args.runs})"], cwd=ROOT, env=env,
                   check=True)


if __name__ == "__main__":
    main()
