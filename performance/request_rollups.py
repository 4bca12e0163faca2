"""Hourly totals of real requests (all routes together, static files left out), rolled up from RequestStat rows.

The logic takes the model classes and the database alias as arguments so that migration 0002 can backfill with its
historical models; `performance.services.request_stats_rollup` calls it with the current ones.

RequestStat rows are only ever appended (each web process flushes its own minutes, some late) or pruned. So the true
total of an hour only grows while rows arrive, and shrinks only once pruning has reached it: a recomputed hour is
written when it is new or counts more requests than its stored rollup, never when it counts fewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Max, Sum
from django.db.models.functions import Coalesce, TruncHour

from opsportal.lib.timebins import JsonItemInt
from performance.timing import BUCKETS_MS, STATIC_ROUTE

BUCKET_COUNT = len(BUCKETS_MS) + 1  # the per-bucket layout of RequestStat.buckets, the last bucket being "slower"
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class RequestHour:
    hour: datetime
    count: int
    sum_ms: float
    max_ms: float
    buckets: list[int]


def hour_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def bucket_sums(field: str = "buckets") -> dict[str, Sum]:
    """One SUM per bucket index of the JSON array (b0, b1, ...): an index a row's list lacks is NULL, which SUM
    skips (COALESCE for a group in which no row has it). The request rollups and the latency chart both sum so."""
    return {f"b{index}": Coalesce(Sum(JsonItemInt(field, index)), 0) for index in range(BUCKET_COUNT)}


def request_hours(*, stat_model, start: datetime, end: datetime, using: str = "default") -> list[RequestHour]:
    """The hours in [start, end), summed in the database on PostgreSQL and on SQLite alike."""
    rows = (
        stat_model.objects.using(using)
        .filter(minute__gte=start, minute__lt=end)
        .exclude(route=STATIC_ROUTE)
        .annotate(at=TruncHour("minute", tzinfo=UTC))
        .values("at")
        .annotate(total=Sum("count"), total_ms=Sum("sum_ms"), slowest=Max("max_ms"), **bucket_sums())
        .order_by("at")
    )
    return [
        RequestHour(hour=hour_start(row["at"]), count=int(row["total"]), sum_ms=float(row["total_ms"]),
                    max_ms=float(row["slowest"]), buckets=[int(row[f"b{index}"]) for index in range(BUCKET_COUNT)])
        for row in rows
    ]


def request_rollups_recompute(*, stat_model, rollup_model, now: datetime, using: str = "default") -> int:
    """(Re)compute hourly rollups up to and including now's hour; return how many rows were written.

    Starts one hour before the newest rollup, and at least at the previous hour, so minutes flushed late are picked
    up; with no rollup yet, at the oldest RequestStat (a backfill).
    """
    current = hour_start(now)
    latest = rollup_model.objects.using(using).order_by("-hour").values_list("hour", flat=True).first()
    if latest is None:
        oldest = stat_model.objects.using(using).order_by("minute").values_list("minute", flat=True).first()
        if oldest is None:
            return 0
        start = hour_start(oldest)
    else:
        start = min(hour_start(latest), current) - HOUR
    computed = request_hours(stat_model=stat_model, start=start, end=current + HOUR, using=using)
    stored = dict(
        rollup_model.objects.using(using)
        .filter(hour__in=[entry.hour for entry in computed])
        .values_list("hour", "count")
    )
    changed = [entry for entry in computed if entry.count > stored.get(entry.hour, 0)]
    rollup_model.objects.using(using).bulk_create(
        [
            rollup_model(hour=entry.hour, count=entry.count, sum_ms=entry.sum_ms, max_ms=entry.max_ms,
                         buckets=entry.buckets)
            for entry in changed
        ],
        update_conflicts=True,
        unique_fields=["hour"],
        update_fields=["count", "sum_ms", "max_ms", "buckets"],
    )
    return len(changed)
