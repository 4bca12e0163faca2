"""Default beat schedules, created by the post_migrate handler; an admin's later edits are never overwritten."""

from __future__ import annotations

from django.conf import settings

from backups.physical.schedules import create_physical_schedules
from opsportal.celery import BACKUPS_QUEUE
from opsportal.lib.schedules import ensure_periodic_task

NIGHTLY_BACKUP = "backups: nightly backup"
WEEKLY_DRILL = "backups: weekly restore drill"
HOURLY_PRUNE = "backups: hourly retention prune"
REAPER = "backups: reap lost runs"


def create_default_schedules(**_: object) -> None:
    ensure_periodic_task(
        name=NIGHTLY_BACKUP,
        task="backups.tasks.run_scheduled_backup",
        queue=BACKUPS_QUEUE,
        crontab={"minute": "0", "hour": "3"},
        description="Backs up everything configured at 03:00 UTC (trigger: scheduled).",
    )
    ensure_periodic_task(
        name=WEEKLY_DRILL,
        task="backups.tasks.drill_latest_backup",
        queue=BACKUPS_QUEUE,
        crontab={"minute": "0", "hour": "5", "day_of_week": "0"},
        description="Sundays 05:00 UTC: restores the latest complete backup into a scratch database and records RTO.",
    )
    ensure_periodic_task(
        name=HOURLY_PRUNE,
        task="backups.tasks.prune_backups",
        queue=BACKUPS_QUEUE,
        crontab={"minute": "30"},
        description="Applies the retention policy (BACKUP_KEEP_*, BACKUP_MAX_AGE): deletes files and records.",
    )
    ensure_periodic_task(
        name=REAPER,
        task="backups.tasks.reap_stale_runs",
        queue=BACKUPS_QUEUE,
        every=settings.BACKUP_REAP_EVERY,
        description="Marks runs whose worker stopped sending heartbeats failed (worker lost) and removes their files.",
    )
    create_physical_schedules()
