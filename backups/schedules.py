from __future__ import annotations

from django.conf import settings

from opsportal.celery import BACKUPS_QUEUE
from opsportal.lib.schedules import ensure_periodic_task


def create_default_schedules(**_: object) -> None:
    ensure_periodic_task(
        name="backups: reap lost runs",
        task="backups.tasks.reap_stale_runs",
        queue=BACKUPS_QUEUE,
        every=settings.BACKUP_REAP_EVERY,
        description="Marks runs whose worker stopped sending heartbeats failed (worker lost) and removes their files.",
    )
