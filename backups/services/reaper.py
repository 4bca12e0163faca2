"""The reaper: no run stays "running" (or "queued") forever after its worker is lost."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from backups.models import BackupArtifact, BackupRun, RestoreRun
from backups.signals import backup_failed
from backups.storage import backup_storage, delete_prefix


def backup_runs_reap_stale() -> list[BackupRun]:
    """Mark runs without a heartbeat for BACKUP_STALE_AFTER failed ("worker lost") and delete their files."""
    limit = timezone.now() - settings.BACKUP_STALE_AFTER
    reaped = []
    stale_running = BackupRun.objects.filter(status=BackupRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, started_at__lt=limit)
    )
    for run in stale_running:
        claimed = BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.RUNNING, heartbeat_at=run.heartbeat_at)
        error = _("worker lost: no heartbeat from %(host)s (pid %(pid)s) since %(when)s") % {
            "host": run.worker_host or "?",
            "pid": run.worker_pid or "?",
            "when": run.heartbeat_at.isoformat() if run.heartbeat_at else "?",
        }
        if claimed.update(status=BackupRun.Status.FAILED, finished_at=timezone.now(), error=error):
            reaped.append(run)
    stale_queued = BackupRun.objects.filter(status=BackupRun.Status.QUEUED, created_at__lt=limit)
    for run in stale_queued:
        error = _("no worker took this backup within %(limit)s; is a worker listening on the backups queue?") % {
            "limit": settings.BACKUP_STALE_AFTER
        }
        if BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.QUEUED).update(
            status=BackupRun.Status.FAILED, finished_at=timezone.now(), error=error
        ):
            reaped.append(run)
    storage = backup_storage()
    for run in reaped:
        delete_prefix(storage, run.storage_prefix)
        BackupArtifact.objects.filter(run=run).delete()
        run.refresh_from_db()
        backup_failed.send(sender=BackupRun, run=run)
    return reaped


def restore_runs_reap_stale() -> list[RestoreRun]:
    """Mark restores without a heartbeat for BACKUP_STALE_AFTER failed: their worker was lost mid-restore."""
    limit = timezone.now() - settings.BACKUP_STALE_AFTER
    stale = RestoreRun.objects.filter(status=RestoreRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, started_at__lt=limit)
    )
    reaped = []
    for restore in stale:
        error = _(
            "worker lost: no heartbeat since %(when)s. A database restore runs in one transaction, so the target is "
            "either unchanged or fully restored; files and volumes may need this restore repeated."
        ) % {"when": restore.heartbeat_at.isoformat() if restore.heartbeat_at else "?"}
        if RestoreRun.objects.filter(pk=restore.pk, status=RestoreRun.Status.RUNNING,
                                     heartbeat_at=restore.heartbeat_at).update(
            status=RestoreRun.Status.FAILED, finished_at=timezone.now(), error=error
        ):
            restore.refresh_from_db()
            reaped.append(restore)
    return reaped
