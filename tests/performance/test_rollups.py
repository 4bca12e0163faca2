"""Hourly rollups (p50/p95/p99) and retention of raw results, rollups and request statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from performance.models import PerfResult, PerfRollup, RequestStat
from performance.selectors import percentile
from performance.services import perf_maintenance_run

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)


def add_results(target, hour: datetime, durations: list[float | None], outcome: str = "ok") -> None:
    PerfResult.objects.bulk_create(
        PerfResult(target=target, measured_at=hour + timedelta(minutes=i % 60), outcome=outcome, duration_ms=d)
        for i, d in enumerate(durations)
    )


def test_results_are_rolled_up_per_target_and_hour(make_target):
    target = make_target(name="rolled", url="/x")
    ten = NOW.replace(hour=10, minute=0)
    add_results(target, ten, [float(ms) for ms in range(1, 101)])
    add_results(target, ten, [None], outcome="unavailable")
    add_results(target, ten + timedelta(hours=1), [200.0, 400.0])

    perf_maintenance_run(now=NOW)

    rollups = {r.hour: r for r in PerfRollup.objects.filter(target=target)}
    first = rollups[ten]
    assert (first.count, first.failures) == (101, 1)
    assert first.p50_ms == pytest.approx(50.5)
    assert first.p95_ms == pytest.approx(95.05)
    assert first.p99_ms == pytest.approx(99.01)
    assert first.max_ms == 100
    second = rollups[ten + timedelta(hours=1)]
    assert (second.count, second.p50_ms, second.max_ms) == (2, 300.0, 400.0)


def test_rerunning_updates_the_open_hour_instead_of_duplicating_it(make_target):
    target = make_target(name="open hour", url="/x")
    noon = NOW.replace(minute=0)
    add_results(target, noon, [10.0])
    perf_maintenance_run(now=NOW)
    add_results(target, noon + timedelta(minutes=20), [30.0])

    perf_maintenance_run(now=NOW + timedelta(minutes=5))

    rollup = PerfRollup.objects.get(target=target)
    assert (rollup.count, rollup.p50_ms) == (2, 20.0)


def test_retention_keeps_rollups_a_year_and_raw_data_two_weeks(make_target):
    target = make_target(name="old", url="/x")
    add_results(target, NOW - timedelta(days=15), [5.0])
    add_results(target, NOW - timedelta(days=1), [6.0])
    PerfRollup.objects.create(target=target, hour=NOW - timedelta(days=366), count=1, failures=0)
    PerfRollup.objects.create(target=target, hour=NOW - timedelta(days=200), count=1, failures=0)
    RequestStat.objects.create(minute=NOW - timedelta(days=15), route="r", method="GET", status_class="2xx",
                               count=1, sum_ms=1, max_ms=1, buckets=[1] + [0] * 10)

    outcome = perf_maintenance_run(now=NOW)

    assert outcome["results"] == 1 and outcome["rollups"] == 1 and outcome["request_stats"] == 1
    assert list(PerfResult.objects.values_list("duration_ms", flat=True)) == [6.0]
    assert PerfRollup.objects.filter(hour=NOW - timedelta(days=200)).exists()
    assert not RequestStat.objects.exists()


def test_percentile_interpolates_between_ranks():
    assert percentile([], 95) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
