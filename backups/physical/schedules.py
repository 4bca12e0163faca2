"""Default beat schedules of physical backups, created idempotently beside the logical ones (never overwritten).

They exist whether or not physical backups are configured; each task does nothing while BACKUP_PGBACKREST_STANZA is
empty, so configuring it later needs no schedule change.
"""

from __future__ import annotations

from django.conf import settings

from opsportal.celery import BACKUPS_QUEUE
from opsportal.lib.schedules import ensure_periodic_task

WEEKLY_FULL = "pgbackrest: full backup (weekly)"
DAILY_DIFF = "pgbackrest: differential backup (daily)"
WEEKLY_PITR_DRILL = "pgbackrest: weekly point-in-time recovery drill"
DAILY_EXPIRE = "pgbackrest: retention (expire)"
ARCHIVE_CHECK = "pgbackrest: check (WAL archiving)"


def create_physical_schedules() -> None:
    ensure_periodic_task(
        name=WEEKLY_FULL, task="backups.physical.tasks.scheduled_backup", queue=BACKUPS_QUEUE,
        crontab={"minute": "0", "hour": "1", "day_of_week": "0"}, kwargs={"backup_type": "full"},
        description="Sundays 01:00 UTC: pgbackrest backup --type=full (when BACKUP_PGBACKREST_STANZA is set).",
    )
    ensure_periodic_task(
        name=DAILY_DIFF, task="backups.physical.tasks.scheduled_backup", queue=BACKUPS_QUEUE,
        crontab={"minute": "0", "hour": "1", "day_of_week": "1-6"}, kwargs={"backup_type": "diff"},
        description="Monday to Saturday 01:00 UTC: pgbackrest backup --type=diff.",
    )
    ensure_periodic_task(
        name=WEEKLY_PITR_DRILL, task="backups.physical.tasks.pitr_drill", queue=BACKUPS_QUEUE,
        crontab={"minute": "0", "hour": "6", "day_of_week": "0"},
        description="Sundays 06:00 UTC: marks a moment, restores to it in a scratch cluster, checks it, records RTO.",
    )
    ensure_periodic_task(
        name=DAILY_EXPIRE, task="backups.physical.tasks.expire", queue=BACKUPS_QUEUE,
        crontab={"minute": "30", "hour": "2"},
        description="02:30 UTC: pgbackrest expire with BACKUP_PGBACKREST_RETENTION_*, never past a pinned run.",
    )
    ensure_periodic_task(
        name=ARCHIVE_CHECK, task="backups.physical.tasks.check", queue=BACKUPS_QUEUE,
        every=settings.BACKUP_PGBACKREST_CHECK_EVERY,
        description="pgbackrest check: the repository answers and WAL reaches it (read by the wal_archive check).",
    )
