"""Thin tasks of physical backups (routed to the backups queue by their `backups.` prefix); each skips when off."""

from __future__ import annotations

import logging

from celery import shared_task

from backups.physical.config import enabled

logger = logging.getLogger("backups")


@shared_task(name="backups.physical.tasks.scheduled_backup")
def scheduled_backup(backup_type: str = "incr") -> int | None:
    from backups.physical.backup import physical_backup_scheduled

    run = physical_backup_scheduled(backup_type=backup_type)
    return run.pk if run is not None else None


@shared_task(name="backups.physical.tasks.pitr_drill")
def pitr_drill() -> bool | None:
    if not enabled():
        return None
    from backups.physical.drill import physical_drill

    result = physical_drill(actor="schedule")
    if not result.ok:
        logger.error("PITR drill failed: %s", result.detail)
    return result.ok


@shared_task(name="backups.physical.tasks.expire")
def expire() -> list[str] | None:
    if not enabled():
        return None
    from backups.physical.retention import physical_expire

    plan = physical_expire()
    if plan.refused:
        logger.error("physical retention: %s", plan.refused)
    return plan.expired


@shared_task(name="backups.physical.tasks.check")
def check() -> bool | None:
    """`pgbackrest check`, its outcome stored for the wal_archive health check."""
    if not enabled():
        return None
    from backups.physical.command import scrub
    from backups.physical.health import record_check_outcome
    from backups.physical.setup import stanza_check

    try:
        stanza_check()
    except Exception as exc:
        record_check_outcome(ok=False, message=scrub(str(exc)))
        return False
    record_check_outcome(ok=True, message="")
    return True
