from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from backups.models import BackupRun
from monitoring.demo import health_history_seed
from performance.models import PerfResult, PerfRollup, PerfTarget, RequestStat
from tests.backups.conftest import backup_dir  # noqa: F401 - the browser test's worker backs up into it

HOSTS = ["web-1", "worker-1"]


def seed_history(*, days: int = 40, raw_days: int = 1, now: datetime | None = None) -> datetime:
    """monitoring's own demo history, plus probe results, request timings and backup runs to mark."""
    now = now or timezone.now()
    health_history_seed(days=days, raw_days=raw_days, hosts=HOSTS, now=now)
    target = PerfTarget.objects.create(name="demo: orders API", kind="api", url="/api/orders",
                                       budget_ms=1000)
    PerfRollup.objects.bulk_create([
        PerfRollup(target=target, hour=(now - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0),
                   count=36, failures=0, p50_ms=80, p95_ms=150 + hours % 50, p99_ms=300, max_ms=400)
        for hours in range(0, days * 24, 6)
    ])
    PerfResult.objects.bulk_create([
        PerfResult(target=target, measured_at=now - timedelta(minutes=minutes), outcome="ok",
                   duration_ms=120 + minutes % 40)
        for minutes in range(5, 24 * 60, 30)
    ])
    # 100 requests a minute: 94 under 25 ms, 6 between 500 ms and 1 s, so the p95 is in the 500–1000 bucket.
    RequestStat.objects.bulk_create([
        RequestStat(minute=(now - timedelta(minutes=minutes)).replace(second=0, microsecond=0), route="admin/",
                    method="GET", status_class="2xx", count=100, sum_ms=5000, max_ms=900,
                    buckets=[94, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0])
        for minutes in range(1, 24 * 60, 10)
    ])
    for days_ago in range(0, min(days, 10)):
        started = now - timedelta(days=days_ago, hours=2)
        failed = days_ago == 3
        run = BackupRun.objects.create(status="failed" if failed else "succeeded", trigger="scheduled",
                                       total_bytes=0 if failed else 5_000_000 + days_ago * 1000,
                                       started_at=started, finished_at=started + timedelta(seconds=40 + days_ago))
        BackupRun.objects.filter(pk=run.pk).update(created_at=started)
    return now


@pytest.fixture
def seeded_history(db) -> datetime:
    return seed_history()


@pytest.fixture(autouse=True)
def _no_cached_rollups() -> None:
    """Each test starts without the rollup part another test's history left in the (process-wide) cache."""
    from django.core.cache import cache

    cache.clear()
