"""The app's own listeners to its signals (connected in BackupsConfig.ready)."""

from __future__ import annotations

import logging

from celery.signals import worker_ready
from django.db import connection
from django.dispatch import receiver

from backups.models import BackupRun
from backups.signals import BackupFailure, backup_failed

logger = logging.getLogger("backups")


@receiver(backup_failed, dispatch_uid="backups.log_failed_scheduled_backup")
def log_failed_scheduled_backup(sender, failure: BackupFailure, **_: object) -> None:
    # Nobody watches a scheduled backup as it runs: until alerting subscribes, the log is where it must show up.
    if failure.trigger == BackupRun.Trigger.SCHEDULED:
        logger.error("scheduled backup run %s failed: %s", failure.run_id, failure.error)


@worker_ready.connect(dispatch_uid="backups.finish_journalled_failures")
def finish_journalled_failures(**_: object) -> None:
    """A worker starting on this host writes the failures journalled here and fails runs whose process is gone."""
    from backups.services.catalog_pending import catalog_reindex_if_owed
    from backups.services.journal import journal_replay
    from backups.services.reaper import backup_runs_reap_dead_workers
    from backups.sources.docker_holds import docker_holds_repair_here

    try:
        catalog_reindex_if_owed()
        journal_replay()
        backup_runs_reap_dead_workers()
    except Exception:  # the worker must start anyway; the reaper tick tries again
        logger.exception("could not finish the journalled backup failures at worker start")
    try:
        docker_holds_repair_here()  # containers a backup killed on this host left stopped
    except Exception:
        logger.exception("could not put back the containers a lost backup stopped, at worker start")
    finally:
        connection.close()
