"""Hourly request rollups: all routes but static files summed per hour, late minutes picked up, kept a year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from performance.models import RequestRollup, RequestStat
from performance.request_rollups import hour_start, request_hours
from performance.services import perf_maintenance_run, request_stats_rollup
from performance.timing import BUCKETS_MS, STATIC_ROUTE

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
NOON = NOW.replace(minute=0)
EMPTY = [0] * (len(BUCKETS_MS) + 1)


def buckets(**counts: int) -> list[int]:
    """Per-bucket counts by upper bound, e.g. buckets(ms25=2, slower=1)."""
    result = list(EMPTY)
    for name, count in counts.items():
        index = len(BUCKETS_MS) if name == "slower" else BUCKETS_MS.index(int(name[2:]))
        result[index] = count
    return result


def stat(minute: datetime, route: str = "api/things/", *, method: str = "GET", status_class: str = "2xx",
         count: int = 1, sum_ms: float = 10.0, max_ms: float = 10.0, hist: list[int] | None = None) -> RequestStat:
    return RequestStat.objects.create(minute=minute, route=route, method=method, status_class=status_class,
                                      count=count, sum_ms=sum_ms, max_ms=max_ms,
                                      buckets=hist if hist is not None else buckets(ms25=count))


def rollups() -> dict[datetime, tuple[int, float, float, list[int]]]:
    return {r.hour: (r.count, r.sum_ms, r.max_ms, r.buckets) for r in RequestRollup.objects.order_by("hour")}


def test_an_hour_sums_every_route_method_and_status_but_leaves_static_files_out():
    stat(NOON + timedelta(minutes=1), "api/things/", count=3, sum_ms=60, max_ms=30, hist=buckets(ms25=2, ms50=1))
    stat(NOON + timedelta(minutes=1), "api/things/", count=1, sum_ms=20, max_ms=20, hist=buckets(ms25=1))  # 2nd worker
    stat(NOON + timedelta(minutes=7), "admin/", method="POST", status_class="5xx", count=2, sum_ms=2600, max_ms=1500,
         hist=buckets(ms2000=2))
    stat(NOON + timedelta(minutes=59), "<unmatched>", status_class="4xx", count=1, sum_ms=12000, max_ms=12000,
         hist=buckets(slower=1))
    stat(NOON + timedelta(minutes=2), STATIC_ROUTE, count=500, sum_ms=900000, max_ms=99999, hist=buckets(slower=500))
    stat(NOON - timedelta(minutes=1), "api/things/", count=4, sum_ms=40, max_ms=10, hist=buckets(ms25=4))

    written = request_stats_rollup(now=NOW)

    assert written == 2
    assert rollups() == {
        NOON - timedelta(hours=1): (4, 40.0, 10.0, buckets(ms25=4)),
        NOON: (7, 14680.0, 12000.0, buckets(ms25=3, ms50=1, ms2000=2, slower=1)),
    }


def test_an_hour_of_static_files_only_has_no_rollup():
    stat(NOON, STATIC_ROUTE, count=9)

    assert request_stats_rollup(now=NOW) == 0
    assert not RequestRollup.objects.exists()


def test_shorter_bucket_lists_count_their_missing_buckets_as_zero():
    stat(NOON, count=2, hist=[1, 1])
    stat(NOON, count=1, hist=buckets(ms50=1))

    request_stats_rollup(now=NOW)

    assert RequestRollup.objects.get().buckets == buckets(ms25=1, ms50=2)


def test_rerunning_changes_nothing():
    stat(NOON - timedelta(hours=1), count=2)
    stat(NOON, count=3)
    request_stats_rollup(now=NOW)
    before = rollups()

    assert request_stats_rollup(now=NOW) == 0
    assert request_stats_rollup(now=NOW + timedelta(minutes=20)) == 0
    assert rollups() == before and len(before) == 2


def test_minutes_flushed_late_are_added_to_an_hour_already_rolled_up():
    stat(NOON + timedelta(minutes=50), count=2)
    request_stats_rollup(now=NOON + timedelta(minutes=55))  # noon rolled up while it was still open
    stat(NOON + timedelta(hours=1, minutes=1), count=5)
    request_stats_rollup(now=NOON + timedelta(hours=1, minutes=2))  # the newest rollup is now 13:00
    # Another web process flushes 12:58 and 12:59 only after that run.
    stat(NOON + timedelta(minutes=58), count=3)
    stat(NOON + timedelta(minutes=59), count=1, max_ms=800, hist=buckets(ms1000=1))

    written = request_stats_rollup(now=NOON + timedelta(hours=2, minutes=1))

    assert written == 1
    result = rollups()
    assert result[NOON][0] == 6 and result[NOON][2] == 800.0 and result[NOON][3] == buckets(ms25=5, ms1000=1)
    assert result[NOON + timedelta(hours=1)][0] == 5


def test_the_first_run_rolls_up_every_stored_minute_like_the_migration_backfill():
    for days in (13, 7, 1):
        stat(NOON - timedelta(days=days, minutes=30), count=days)

    assert request_stats_rollup(now=NOW) == 3
    assert [(hour, count) for hour, (count, *_rest) in rollups().items()] == [
        (NOON - timedelta(days=13, hours=1), 13),
        (NOON - timedelta(days=7, hours=1), 7),
        (NOON - timedelta(days=1, hours=1), 1),
    ]


def test_the_migration_backfills_with_its_historical_models():
    stat(NOON - timedelta(days=3), count=4)
    stat(NOON - timedelta(days=3), STATIC_ROUTE, count=100)
    stat(NOON, count=1)
    from importlib import import_module

    migration = import_module("performance.migrations.0002_request_rollup")
    historical = MigrationExecutor(connection).loader.project_state(("performance", "0002_request_rollup")).apps

    with connection.schema_editor() as editor:
        migration.backfill_request_rollups(historical, editor)

    counts = dict(RequestRollup.objects.values_list("hour", "count"))
    assert counts[NOON - timedelta(days=3)] == 4 and counts[NOON] == 1 and len(counts) == 2


def test_maintenance_rolls_up_before_pruning_so_request_latency_outlives_the_minutes(settings):
    settings.PERF_REQUEST_STAT_RETENTION = timedelta(days=14)
    stat(NOON + timedelta(minutes=5), count=2, max_ms=700, hist=buckets(ms1000=2))
    perf_maintenance_run(now=NOW)
    stat(NOON + timedelta(minutes=25), count=1)  # flushed late, after that run

    outcome = perf_maintenance_run(now=NOW + timedelta(days=15))

    assert outcome["request_stats"] == 2 and not RequestStat.objects.exists()
    assert rollups() == {NOON: (3, 20.0, 700.0, buckets(ms25=1, ms1000=2))}


def test_an_hour_half_pruned_keeps_its_full_rollup():
    # A quiet portal: no request since noon, so every hourly run recomputes noon, also after pruning reached it.
    stat(NOON + timedelta(minutes=10), count=2)
    stat(NOON + timedelta(minutes=50), count=3)
    perf_maintenance_run(now=NOON + timedelta(minutes=55))

    perf_maintenance_run(now=NOON + timedelta(days=14, minutes=30))  # prunes 12:10, keeps 12:50
    assert RequestStat.objects.count() == 1

    request_stats_rollup(now=NOON + timedelta(days=14, minutes=45))

    assert RequestRollup.objects.get(hour=NOON).count == 5


def test_rollups_are_kept_for_the_rollup_retention(settings):
    settings.PERF_ROLLUP_RETENTION = timedelta(days=365)
    for days in (366, 364):
        RequestRollup.objects.create(hour=NOON - timedelta(days=days), count=1, sum_ms=1, max_ms=1, buckets=EMPTY)

    outcome = perf_maintenance_run(now=NOW)

    assert outcome["request_rollups"] == 1
    assert list(RequestRollup.objects.values_list("hour", flat=True)) == [NOON - timedelta(days=364)]


def test_the_hours_sum_exactly_like_adding_the_rows_up_one_by_one():
    """One ORM query on PostgreSQL and SQLite alike; the oracle is the rows added up here, by hand."""
    routes = ["api/a/", "api/b/", "admin/", STATIC_ROUTE]
    for index in range(200):
        hist = [(index * 7 + bucket * 3) % 5 for bucket in range(len(EMPTY) - index % 3)]  # some lists shorter
        stat(NOON - timedelta(minutes=index * 3), routes[index % 4], status_class=("2xx", "5xx")[index % 2],
             count=sum(hist) or 1, sum_ms=index * 1.5, max_ms=float(index % 37), hist=hist)
    window = {"stat_model": RequestStat, "start": NOON - timedelta(hours=9), "end": NOON + timedelta(hours=1)}
    by_hand: dict[datetime, dict] = {}
    for row in RequestStat.objects.filter(minute__gte=window["start"], minute__lt=window["end"]).exclude(
            route=STATIC_ROUTE):
        entry = by_hand.setdefault(hour_start(row.minute), {"count": 0, "sum_ms": 0.0, "max_ms": 0.0,
                                                            "buckets": list(EMPTY)})
        entry["count"] += row.count
        entry["sum_ms"] += row.sum_ms
        entry["max_ms"] = max(entry["max_ms"], row.max_ms)
        for bucket, value in enumerate(row.buckets):
            entry["buckets"][bucket] += value
    in_python = [SimpleNamespace(hour=hour, **entry) for hour, entry in sorted(by_hand.items())]

    in_sql = request_hours(**window)

    assert len(in_sql) == 10
    assert [(h.hour, h.count, h.max_ms, h.buckets) for h in in_sql] == [
        (h.hour, h.count, h.max_ms, h.buckets) for h in in_python
    ]
    assert [h.sum_ms for h in in_sql] == pytest.approx([h.sum_ms for h in in_python])


def test_the_admin_lists_rollups_read_only(admin_client):
    RequestRollup.objects.create(hour=NOON, count=4, sum_ms=50, max_ms=30, buckets=buckets(ms25=3, ms50=1))

    page = admin_client.get(reverse("admin:performance_requestrollup_changelist"))

    assert page.status_code == 200 and "12.5" in page.content.decode()
    assert admin_client.get(reverse("admin:performance_requestrollup_add")).status_code == 403
