"""Default periodic tasks, created idempotently: an admin's later edits are never overwritten."""

from __future__ import annotations

import json
from datetime import timedelta

from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


def ensure_periodic_task(
    *,
    name: str,
    task: str,
    queue: str,
    every: timedelta | None = None,
    crontab: dict[str, str] | None = None,
    kwargs: dict | None = None,
    description: str = "",
) -> tuple[PeriodicTask, bool]:
    """Create the periodic task `name` unless it exists; return it and whether it was created.

    An existing task is left exactly as it is (schedule, enabled flag, arguments), since an admin may have edited it.
    """
    existing = PeriodicTask.objects.filter(name=name).first()
    if existing is not None:
        return existing, False
    if (every is None) == (crontab is None):
        raise ValueError("give exactly one of every= or crontab=")
    schedule_fields: dict = {}
    if every is not None:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=int(every.total_seconds()), period=IntervalSchedule.SECONDS
        )
        schedule_fields["interval"] = interval
    else:
        cron, _ = CrontabSchedule.objects.get_or_create(
            minute=crontab.get("minute", "*"),
            hour=crontab.get("hour", "*"),
            day_of_week=crontab.get("day_of_week", "*"),
            day_of_month=crontab.get("day_of_month", "*"),
            month_of_year=crontab.get("month_of_year", "*"),
            timezone="UTC",
        )
        schedule_fields["crontab"] = cron
    created = PeriodicTask.objects.create(
        name=name,
        task=task,
        queue=queue,
        kwargs=json.dumps(kwargs or {}),
        description=description,
        **schedule_fields,
    )
    return created, True
