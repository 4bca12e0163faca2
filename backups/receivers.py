"""The app's own listeners to its signals (connected in BackupsConfig.ready)."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from backups.models import BackupRun
from backups.signals import backup_failed

logger = logging.getLogger("backups")


@receiver(backup_failed, dispatch_uid="backups.log_failed_scheduled_backup")
def log_failed_scheduled_backup(sender, run: BackupRun, **_: object) -> None:
    # Nobody watches a scheduled backup as it runs: until alerting subscribes, the log is where it must show up.
    if run.trigger == BackupRun.Trigger.SCHEDULED:
        logger.error("scheduled backup run %s failed: %s", run.pk, run.error)
