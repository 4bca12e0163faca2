"""Realistic health history for demos and benchmarks: hourly rollups for every day (and the daily rollups computed
from them), raw minutes for recent days.

On PostgreSQL rows go in through COPY (a year of minute snapshots is ~14 million rows); elsewhere through
bulk_create. Values follow a daily rhythm with noise and a few incidents, from a seeded random generator so two runs
with the same arguments produce the same history.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from monitoring.history import health_history_rollup_daily
from monitoring.models import CheckResult, CheckRollup, HealthSnapshot, MetricRollup, MetricSample, Status

GLOBAL_CHECKS = ["database", "redis:broker", "celery", "migrations", "backups"]
# `manage.py seeddemo` marks what it writes: every label value and host starts with this, and the checks that have no
# host get the host "demo", so demo series never mix with real ones and `seeddemo --remove` finds them all.
DEMO_PREFIX = "demo-"
DEMO_HOST = "demo"
HOST_CHECKS = ["disk", "memory", "cpu", "docker"]


@dataclass(frozen=True)
class Series:
    name: str
    labels: str
    base: float
    swing: float
    noise: float

    def value(self, rng: random.Random, moment: datetime, incident: bool) -> float:
        day = math.sin(2 * math.pi * (moment.hour * 60 + moment.minute) / 1440)
        value = self.base + self.swing * day + rng.gauss(0, self.noise)
        if incident:
            value += 3 * self.swing + 3 * self.noise
        return max(0.0, value)


def demo_series(hosts: list[str], prefix: str = "") -> list[Series]:
    series = [
        Series("database_latency_seconds", f"database={prefix}default", 0.002, 0.001, 0.0005),
        Series("database_connections", f"database={prefix}default", 20, 8, 2),
        Series("database_size_bytes", f"database={prefix}default", 2.0e9, 1e6, 1e5),
        Series("redis_used_memory_bytes", f"role={prefix}broker", 40e6, 5e6, 1e6),
        Series("celery_queue_length", f"queue={prefix}backups", 0.5, 0.5, 0.5),
        Series("celery_queue_length", f"queue={prefix}monitoring", 1, 1, 1),
        Series("celery_workers_online", f"queue={prefix}backups", 1, 0, 0),
        Series("celery_workers_online", f"queue={prefix}monitoring", len(hosts), 0, 0),
    ]
    for host in hosts:
        series += [
            Series("cpu_percent", f"host={host}", 25, 15, 5),
            Series("load_average", f"host={host},period=5m", 0.8, 0.5, 0.2),
            Series("memory_used_percent", f"host={host}", 55, 10, 3),
            Series("disk_used_percent", f"host={host},path=/", 48, 1, 0.2),
        ]
    return series


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    moment = start
    while moment < end:
        yield moment
        moment += timedelta(hours=1)


def _incident(rng: random.Random) -> bool:
    return rng.random() < 0.002


def _status(rng: random.Random, incident: bool) -> str:
    if incident:
        return Status.CRITICAL if rng.random() < 0.5 else Status.WARNING
    return Status.WARNING if rng.random() < 0.003 else Status.OK


def health_history_seed(*, days: int, raw_days: int, hosts: list[str], seed: int = 7,
                        now: datetime | None = None, demo: bool = False) -> dict[str, int]:
    """Write `days` of hourly rollups ending now (with the daily rollups of the days they touch), and raw minute
    snapshots for the last `raw_days` of them. With `demo`, every host and label value is marked (DEMO_PREFIX) so
    it shows as demo data and health_history_remove_demo() takes it away; other series are never touched."""
    prefix = DEMO_PREFIX if demo else ""
    hosts = [host if host.startswith(prefix) else prefix + host for host in hosts]
    rng = random.Random(seed)  # noqa: S311 - demo data, reproducible on purpose
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    start = (now - timedelta(days=days)).replace(minute=0)
    raw_start = now - timedelta(days=min(raw_days, days))
    series = demo_series(hosts, prefix)
    checks = ([(name, DEMO_HOST if demo else "") for name in GLOBAL_CHECKS]
              + [(name, host) for host in hosts for name in HOST_CHECKS])

    metric_rollups, check_rollups = [], []
    end = now.replace(minute=0)
    for hour in _hours(start, end):
        for item in series:
            values = [item.value(rng, hour + timedelta(minutes=minute), False) for minute in (0, 20, 40)]
            metric_rollups.append(MetricRollup(hour=hour, name=item.name, labels=item.labels, count=60,
                                               minimum=min(values), average=sum(values) / 3, maximum=max(values)))
        for check_name, host in checks:
            critical = 1 if _incident(rng) else 0
            warning = 1 if rng.random() < 0.05 else 0
            check_rollups.append(CheckRollup(hour=hour, check_name=check_name, host=host, ok_count=60 - critical
                                             - warning, warning_count=warning, critical_count=critical,
                                             average_duration_ms=rng.uniform(1, 20)))
    with transaction.atomic():
        # Only the rows of the series and checks seeded here: real history stays as it is.
        for item in series:
            MetricRollup.objects.filter(hour__gte=start, name=item.name, labels=item.labels).delete()
        for check_name, host in checks:
            CheckRollup.objects.filter(hour__gte=start, check_name=check_name, host=host).delete()
        MetricRollup.objects.bulk_create(metric_rollups, batch_size=5000)
        CheckRollup.objects.bulk_create(check_rollups, batch_size=5000)
        daily_rollups = health_history_rollup_daily(since=start, until=end)

    minutes = int((now - raw_start).total_seconds() // 60)
    moments = [raw_start + timedelta(minutes=index) for index in range(minutes)]
    writer = _copy_raw if connection.vendor == "postgresql" else _bulk_raw
    snapshots, results, samples = writer(rng, moments, series, checks)
    return {"metric_rollups": len(metric_rollups), "check_rollups": len(check_rollups),
            "daily_rollups": daily_rollups, "snapshots": snapshots, "check_results": results,
            "metric_samples": samples}


def health_history_remove_demo() -> dict[str, int]:
    """Remove everything `seeddemo` wrote (marked with DEMO_PREFIX / DEMO_HOST); real history stays."""
    from monitoring.models import CheckDailyRollup, MetricDailyRollup

    marked_labels = {"labels__regex": rf"(^|,)[^=,]+={DEMO_PREFIX}"}
    demo_hosts = Q(host=DEMO_HOST) | Q(host__startswith=DEMO_PREFIX)
    demo_results = CheckResult.objects.filter(demo_hosts, snapshot=OuterRef("pk"))
    real_results = CheckResult.objects.filter(snapshot=OuterRef("pk")).exclude(demo_hosts)
    with transaction.atomic():
        # A demo snapshot holds only demo results (a real one keeps its real results and loses the demo ones).
        demo_snapshots = HealthSnapshot.objects.filter(Exists(demo_results)).exclude(Exists(real_results))
        removed = {
            "snapshots": demo_snapshots.count(),
        }
        demo_snapshots.delete()
        removed |= {
            "check_results": CheckResult.objects.filter(demo_hosts).delete()[0],
            "metric_samples": MetricSample.objects.filter(**marked_labels).delete()[0],
            "metric_rollups": MetricRollup.objects.filter(**marked_labels).delete()[0],
            "daily_metric_rollups": MetricDailyRollup.objects.filter(**marked_labels).delete()[0],
            "check_rollups": CheckRollup.objects.filter(demo_hosts).delete()[0],
            "daily_check_rollups": CheckDailyRollup.objects.filter(demo_hosts).delete()[0],
        }
    return removed


def _rows(rng: random.Random, moments: list[datetime], series: list[Series], checks: list[tuple[str, str]],
          first_id: int) -> Iterator[tuple[tuple, list[tuple], list[tuple]]]:
    for offset, moment in enumerate(moments):
        snapshot_id = first_id + offset
        incident = _incident(rng)
        statuses = [_status(rng, incident and index == 0) for index in range(len(checks))]
        overall = Status.CRITICAL if Status.CRITICAL in statuses else (
            Status.WARNING if Status.WARNING in statuses else Status.OK)
        snapshot = (snapshot_id, moment, overall, rng.uniform(20, 80))
        results = [(snapshot_id, moment, name, host, status, "", rng.uniform(1, 20))
                   for (name, host), status in zip(checks, statuses, strict=True)]
        samples = [(snapshot_id, moment, item.name, item.labels, item.value(rng, moment, incident))
                   for item in series]
        yield snapshot, results, samples


def _copy_raw(rng, moments, series, checks) -> tuple[int, int, int]:
    """COPY a day at a time (three COPYs per day on one connection): memory stays flat for a year of minutes."""
    counts = [0, 0, 0]
    day = 1440
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM monitoring_healthsnapshot")
        next_id = cursor.fetchone()[0]
        raw = cursor.cursor  # the psycopg cursor: Django's wrapper has no COPY
        empty_values = json.dumps({})
        for offset in range(0, len(moments), day):
            chunk = list(_rows(rng, moments[offset:offset + day], series, checks, next_id))
            next_id += len(chunk)
            with raw.copy("COPY monitoring_healthsnapshot (id, taken_at, status, duration_ms) FROM STDIN") as copy:
                for snapshot, _results, _samples in chunk:
                    copy.write_row(snapshot)
            with raw.copy("COPY monitoring_checkresult (snapshot_id, taken_at, check_name, host, status, message,"
                          " duration_ms, values) FROM STDIN") as copy:
                for _snapshot, results, _samples in chunk:
                    for row in results:
                        copy.write_row((*row, empty_values))
                        counts[1] += 1
            with raw.copy("COPY monitoring_metricsample (snapshot_id, taken_at, name, labels, value) FROM STDIN"
                          ) as copy:
                for _snapshot, _results, samples in chunk:
                    for row in samples:
                        copy.write_row(row)
                        counts[2] += 1
            counts[0] += len(chunk)
        cursor.execute("SELECT setval(pg_get_serial_sequence('monitoring_healthsnapshot', 'id'),"
                       " (SELECT MAX(id) FROM monitoring_healthsnapshot))")
    return counts[0], counts[1], counts[2]


def _bulk_raw(rng, moments, series, checks) -> tuple[int, int, int]:
    first = (HealthSnapshot.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    snapshots, results, samples = [], [], []
    for snapshot, result_rows, sample_rows in _rows(rng, moments, series, checks, first):
        snapshots.append(HealthSnapshot(id=snapshot[0], taken_at=snapshot[1], status=snapshot[2],
                                        duration_ms=snapshot[3]))
        results += [CheckResult(snapshot_id=row[0], taken_at=row[1], check_name=row[2], host=row[3], status=row[4],
                                message=row[5], duration_ms=row[6], values={}) for row in result_rows]
        samples += [MetricSample(snapshot_id=row[0], taken_at=row[1], name=row[2], labels=row[3], value=row[4])
                    for row in sample_rows]
    with transaction.atomic():
        HealthSnapshot.objects.bulk_create(snapshots, batch_size=2000)
        CheckResult.objects.bulk_create(results, batch_size=2000)
        MetricSample.objects.bulk_create(samples, batch_size=2000)
    return len(snapshots), len(results), len(samples)
