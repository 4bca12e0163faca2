"""Chart series: metric charts per label set, the request p95 from histograms, probe timings with budget lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from dashboards.series import align, history_charts, request_latency_p95
from monitoring.models import MetricSample
from monitoring.selectors import metric_points
from performance.models import RequestStat
from performance.selectors import histogram_quantile
from performance.services import request_stats_rollup


def test_align_shares_one_x_array_and_leaves_gaps_empty():
    xs, values = align([[(1, 1.0), (3, 3.0)], [(2, 20.0), (3, 30.0)]])
    assert xs == [1, 2, 3]
    assert values == [[1.0, None, 3.0], [None, 20.0, 30.0]]


def test_the_quantile_of_a_histogram_interpolates_within_its_bucket_and_never_exceeds_the_slowest_request():
    # 100 requests: 90 under 25 ms, 10 in (500, 1000]: rank 95 is halfway through the slow bucket.
    assert histogram_quantile([90, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0], 0.95, max_ms=2000) == pytest.approx(750)
    assert histogram_quantile([90, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0], 0.95, max_ms=600) == 600
    assert histogram_quantile([100] + [0] * 10, 0.95, max_ms=20) == pytest.approx(20)
    assert histogram_quantile([0] * 10 + [5], 0.95, max_ms=12_000) == pytest.approx(10_000 + 2000 * 0.95)
    assert histogram_quantile([0] * 11, 0.95, max_ms=0) is None


@pytest.mark.django_db
def test_request_p95_sums_routes_and_processes_per_minute_and_leaves_static_files_out():
    minute = (timezone.now() - timedelta(minutes=10)).replace(second=0, microsecond=0)
    fast = [50] + [0] * 10
    slow = [0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0]  # (2000, 3000]
    for route, buckets in [("admin/", fast), ("api/orders", slow), ("<static>", [0] * 10 + [1000])]:
        RequestStat.objects.create(minute=minute, route=route, method="GET", status_class="2xx",
                                   count=sum(buckets), sum_ms=1, max_ms=2900 if route == "api/orders" else 60_000,
                                   buckets=buckets)
    points = request_latency_p95(start=minute - timedelta(hours=1), end=minute + timedelta(minutes=1))
    # 100 requests, rank 95 is 45/50 through (2000, 3000]; the static route's minute-long downloads do not count.
    assert points == [(int(minute.timestamp()), pytest.approx(2900))]


@pytest.mark.django_db
def test_a_year_reads_daily_points_a_day_five_minute_bins_and_hours_each_minute(seeded_history):
    now = seeded_history
    year = {chart["id"]: chart for chart in history_charts(start=now - timedelta(days=365), end=now)}
    day = {chart["id"]: chart for chart in history_charts(start=now - timedelta(hours=24), end=now)}
    six_hours = {chart["id"]: chart for chart in history_charts(start=now - timedelta(hours=6), end=now)}

    assert 40 <= len(year["cpu"]["x"]) <= 42  # forty days of rollups, one point a day
    assert 285 <= len(day["cpu"]["x"]) <= 289  # a day of minutes binned to five minutes: a chart's width
    assert {x % 300 for x in day["cpu"]["x"]} == {0}
    assert 355 <= len(six_hours["cpu"]["x"]) <= 361  # up to 12 hours, one point a minute
    assert {series["label"] for series in year["disk"]["series"]} == {"web-1 /", "worker-1 /"}
    assert {series["label"] for series in year["queues"]["series"]} == {"backups", "monitoring"}

    latency = day["request_latency"]["series"][0]["values"]
    assert latency and all(500 < value <= 900 for value in latency)

    probes = {series["label"]: series for series in year["probes"]["series"]}
    assert probes["budget: demo: orders API"]["budget"] is True
    assert set(probes["budget: demo: orders API"]["values"]) == {1000}
    assert any(value is not None for value in probes["demo: orders API"]["values"])
    raw_probe = {series["label"]: series for series in day["probes"]["series"]}["demo: orders API"]["values"]
    assert sum(value is not None for value in raw_probe) == 48  # every sample of the day


@pytest.mark.django_db
def test_a_five_minute_point_is_the_mean_min_and_max_of_the_samples_in_it(seeded_history):
    now = seeded_history
    start = now - timedelta(hours=24)
    points = metric_points(name="cpu_percent", labels="host=web-1", start=start, end=now)
    at, average, minimum, maximum = points[len(points) // 2]
    bin_start = datetime.fromtimestamp(at, tz=UTC)
    values = list(MetricSample.objects.filter(name="cpu_percent", labels="host=web-1", taken_at__gte=bin_start,
                                              taken_at__lt=bin_start + timedelta(minutes=5))
                  .values_list("value", flat=True))
    assert len(values) == 5
    assert average == pytest.approx(sum(values) / 5)
    assert (minimum, maximum) == (min(values), max(values))


@pytest.mark.django_db
def test_long_ranges_chart_request_latency_from_the_hourly_rollups_after_the_minutes_are_pruned():
    hour = (timezone.now() - timedelta(days=20)).replace(minute=0, second=0, microsecond=0)
    for minute, buckets in [(5, [50] + [0] * 10), (40, [0] * 7 + [50, 0, 0, 0])]:
        RequestStat.objects.create(minute=hour + timedelta(minutes=minute), route="api/orders", method="GET",
                                   status_class="2xx", count=50, sum_ms=1, max_ms=2900, buckets=buckets)
    request_stats_rollup()
    RequestStat.objects.all().delete()  # what the 14-day retention does to the minutes
    now = timezone.now()
    month = request_latency_p95(start=now - timedelta(days=30), end=now)
    year = request_latency_p95(start=now - timedelta(days=365), end=now)
    assert month == [(int(hour.timestamp()), pytest.approx(2900))]
    day = hour.replace(hour=0)
    assert year == [(int(day.timestamp()), pytest.approx(2900))]
