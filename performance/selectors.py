from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import FloatField, Max, Q
from django.db.models.functions import Cast
from django.utils import timezone

from opsportal.lib.timebins import EpochBin, rows
from performance.models import PerfResult, PerfRollup, PerfTarget, RequestRollup, RequestStat
from performance.request_rollups import BUCKET_COUNT, bucket_sums
from performance.timing import BUCKETS_MS, STATIC_ROUTE


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class WindowStats:
    count: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, durations: list[float], failures: int) -> WindowStats:
        return cls(
            count=len(durations),
            failures=failures,
            p50_ms=percentile(durations, 50),
            p95_ms=percentile(durations, 95),
            p99_ms=percentile(durations, 99),
        )


def perf_target_window_stats(*, target: PerfTarget, now: datetime | None = None) -> WindowStats:
    """Percentiles of the target's successful samples within the budget window (PERF_BUDGET_WINDOW).

    A failed sample's duration (a refused connection answers in milliseconds) says nothing about latency: it is
    counted as a failure and never enters the percentiles.
    """
    since = (now or timezone.now()) - settings.PERF_BUDGET_WINDOW
    rows = PerfResult.objects.filter(target=target, measured_at__gte=since).values_list("duration_ms", "outcome")
    durations = [duration for duration, outcome in rows if duration is not None and outcome == PerfResult.Outcome.OK]
    failures = sum(1 for _, outcome in rows if outcome != PerfResult.Outcome.OK)
    return WindowStats.of(durations, failures)


def perf_targets_breached() -> list[PerfTarget]:
    """Targets that are red right now: p95 over budget, or failing (the last probe round failed)."""
    return list(
        PerfTarget.objects.filter(Q(breached_since__isnull=False) | Q(failing_since__isnull=False)).order_by("name")
    )


def perf_targets_failing() -> list[PerfTarget]:
    """Targets whose last probe round failed (refused, timed out, unexpected status, browser unavailable)."""
    return list(PerfTarget.objects.filter(failing_since__isnull=False).order_by("name"))


def perf_targets_enabled(*, names: Iterable[str] | None = None) -> list[PerfTarget]:
    queryset = PerfTarget.objects.all() if names else PerfTarget.objects.filter(enabled=True)
    if names:
        queryset = queryset.filter(name__in=list(names))
    return list(queryset.order_by("name"))


@dataclass(frozen=True)
class RouteSummary:
    route: str
    method: str
    count: int
    errors: int  # 5xx responses
    mean_ms: float
    max_ms: float
    over_1s: int
    over_3s: int


def request_stats_summary(*, since: datetime | None = None) -> list[RouteSummary]:
    """Per route and method since `since` (default: the last hour), slowest mean first."""
    since = since or timezone.now() - timedelta(hours=1)
    over_1s_from = BUCKETS_MS.index(1000) + 1
    over_3s_from = BUCKETS_MS.index(3000) + 1
    totals: dict[tuple[str, str], dict] = {}
    for stat in RequestStat.objects.filter(minute__gte=since).iterator():
        entry = totals.setdefault(
            (stat.route, stat.method), {"count": 0, "errors": 0, "sum": 0.0, "max": 0.0, "o1": 0, "o3": 0}
        )
        entry["count"] += stat.count
        entry["errors"] += stat.count if stat.status_class == "5xx" else 0
        entry["sum"] += stat.sum_ms
        entry["max"] = max(entry["max"], stat.max_ms)
        entry["o1"] += sum(stat.buckets[over_1s_from:])
        entry["o3"] += sum(stat.buckets[over_3s_from:])
    summaries = [
        RouteSummary(
            route=route,
            method=method,
            count=e["count"],
            errors=e["errors"],
            mean_ms=e["sum"] / e["count"] if e["count"] else 0.0,
            max_ms=e["max"],
            over_1s=e["o1"],
            over_3s=e["o3"],
        )
        for (route, method), e in totals.items()
    ]
    return sorted(summaries, key=lambda s: s.mean_ms, reverse=True)


def histogram_quantile(buckets: list[int], q: float, *, max_ms: float) -> float | None:
    """The q-quantile of a request histogram (per-bucket counts for BUCKETS_MS, then everything slower).

    Linear within the bucket that holds the rank, as Prometheus' histogram_quantile; never above the slowest
    request actually seen.
    """
    total = sum(buckets)
    if not total:
        return None
    rank = q * total
    cumulative, lower = 0, 0.0
    for index, count in enumerate(buckets):
        upper = BUCKETS_MS[index] if index < len(BUCKETS_MS) else max(max_ms, lower)
        if count and cumulative + count >= rank:
            return min(lower + (upper - lower) * (rank - cumulative) / count, max_ms)
        cumulative += count
        lower = upper
    return max_ms


def request_latency_p95(*, start: datetime, end: datetime, step: int, from_rollups: bool,
                        ) -> list[tuple[int, float | None]]:
    """(epoch seconds, p95 server time) of real requests (static files left out), summed across routes, per `step`.

    Short ranges read the per-minute rows (kept PERF_REQUEST_STAT_RETENTION); long ones (`from_rollups`) the hourly
    rollups (kept a year), so a year is 8,760 rows rather than every minute of every route, plus the per-minute rows
    after the newest rollup (the newest hours, which the hourly task has not rolled up yet). The per-bucket sums
    happen in the database (one SUM per bucket index of the JSON array): one row per bin comes back.
    """
    if not from_rollups:
        bins = _request_bins(raw=True, start=start, end=end, step=step)
    else:
        bins = _request_bins(raw=False, start=start, end=end, step=step)
        newest = RequestRollup.objects.aggregate(Max("hour"))["hour__max"]
        tail_start = max(start, newest + timedelta(hours=1)) if newest else start
        if tail_start <= end:
            for at, (slowest, counts) in _request_bins(raw=True, start=tail_start, end=end, step=step).items():
                before, before_counts = bins.get(at, (0.0, [0] * BUCKET_COUNT))
                bins[at] = (max(before, slowest), [a + b for a, b in zip(before_counts, counts, strict=True)])
    return [(at, histogram_quantile(counts, 0.95, max_ms=slowest)) for at, (slowest, counts) in sorted(bins.items())]


def _request_bins(*, raw: bool, start: datetime, end: datetime, step: int) -> dict[int, tuple[float, list[int]]]:
    """bin -> (slowest request, per-bucket counts) from the per-minute rows (raw) or the hourly rollups."""
    if raw:
        stored = RequestStat.objects.filter(minute__gte=start, minute__lte=end).exclude(route=STATIC_ROUTE)
        column = "minute"
    else:
        stored = RequestRollup.objects.filter(hour__gte=start, hour__lte=end)
        column = "hour"
    binned = stored.annotate(at=EpochBin(column, step)).values("at").annotate(slowest=Max("max_ms"), **bucket_sums())
    buckets = [f"b{index}" for index in range(BUCKET_COUNT)]
    return {at: (float(slowest or 0.0), [int(count) for count in counts])
            for at, slowest, *counts in rows(binned.order_by("at"), "at", "slowest", *buckets)}


def probe_points(*, target: PerfTarget, start: datetime, end: datetime, step: int, from_rollups: bool,
                 ) -> list[tuple[int, float | None]]:
    """(epoch seconds, ms) of one target: each successful sample for short ranges; beyond, the worst hourly p95 of
    the rollups in each `step` (an hour: each rollup; a day: the worst of its hours)."""
    if not from_rollups:
        results = PerfResult.objects.filter(target=target, measured_at__gte=start, measured_at__lte=end,
                                            outcome=PerfResult.Outcome.OK).order_by("measured_at")
        return rows(results.annotate(at=EpochBin("measured_at")), "at", "duration_ms")
    rollups = PerfRollup.objects.filter(target=target, hour__gte=start, hour__lte=end)
    return rows(rollups.annotate(at=EpochBin("hour", step)).values("at").annotate(
        p95=Max(Cast("p95_ms", FloatField()))).order_by("at"), "at", "p95")
