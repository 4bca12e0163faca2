from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from performance.models import PerfResult, PerfTarget, RequestStat
from performance.timing import BUCKETS_MS


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
