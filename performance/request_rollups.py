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

from django.db import connections

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


# Built from the integer indexes of a constant; every value is a parameter. An index a row's list lacks is NULL,
# which SUM skips (COALESCE for an hour in which no row has it).
BUCKET_SUMS_SQL = ", ".join(f"COALESCE(SUM((buckets->>{index})::int), 0)" for index in range(BUCKET_COUNT))
_HOURLY_SQL = (
    "SELECT date_trunc('hour', minute, 'UTC'), SUM(count), SUM(sum_ms), MAX(max_ms), "  # noqa: S608
    + BUCKET_SUMS_SQL
    + " FROM {table} WHERE minute >= %(start)s AND minute < %(end)s AND route <> %(static)s GROUP BY 1 ORDER BY 1"
)


def request_hours_sql(*, stat_model, start: datetime, end: datetime, using: str = "default") -> list[RequestHour]:
    """PostgreSQL: the hours in [start, end) summed in the database (one SUM per bucket index of the JSON array)."""
    table = connections[using].ops.quote_name(stat_model._meta.db_table)
    with connections[using].cursor() as cursor:
        cursor.execute(_HOURLY_SQL.format(table=table), {"start": start, "end": end, "static": STATIC_ROUTE})
        return [
            RequestHour(hour=hour_start(row[0]), count=int(row[1]), sum_ms=float(row[2]), max_ms=float(row[3]),
                        buckets=[int(value) for value in row[4:]])
            for row in cursor.fetchall()
        ]


def request_hours_python(*, stat_model, start: datetime, end: datetime, using: str = "default") -> list[RequestHour]:
    """Any database (the embedded SQLite): the same sums as request_hours_sql, added up row by row in Python."""
    totals: dict[datetime, dict] = {}
    rows = (
        stat_model.objects.using(using)
        .filter(minute__gte=start, minute__lt=end)
        .exclude(route=STATIC_ROUTE)
        .values_list("minute", "count", "sum_ms", "max_ms", "buckets")
    )
    for minute, count, sum_ms, max_ms, buckets in rows.iterator():
        entry = totals.setdefault(
            hour_start(minute), {"count": 0, "sum_ms": 0.0, "max_ms": 0.0, "buckets": [0] * BUCKET_COUNT}
        )
        entry["count"] += count
        entry["sum_ms"] += sum_ms
        entry["max_ms"] = max(entry["max_ms"], max_ms)
        for index, value in enumerate((buckets or [])[:BUCKET_COUNT]):
            entry["buckets"][index] += int(value or 0)
    return [RequestHour(hour=hour, **entry) for hour, entry in sorted(totals.items())]


def request_hours(*, stat_model, start: datetime, end: datetime, using: str = "default") -> list[RequestHour]:
    compute = request_hours_sql if connections[using].vendor == "postgresql" else request_hours_python
    return compute(stat_model=stat_model, start=start, end=end, using=using)


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
