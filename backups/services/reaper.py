"""The reaper: no run stays "running" (or "queued") forever after its worker is lost.

Two ways to tell a run is lost: its worker process on this very host is gone (at once, backup_runs_reap_dead_workers),
or its heartbeat is older than BACKUP_STALE_AFTER (any host, backup_runs_reap_stale). A failure this host could not
write when it happened (the journal) is written first, so its real cause is kept rather than "worker lost".
"""

from __future__ import annotations

import logging
from datetime import datetime

import psutil
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from backups import manifest
from backups.models import BackupArtifact, BackupRun, RestoreRun
from backups.services.catalog import backup_run_repair_from_manifest
from backups.services.failure import announce_failure, remove_files_of
from backups.services.journal import journal_cause
from backups.storage import backup_storage
from opsportal.lib.hostname import host_name

logger = logging.getLogger("backups")

# psutil's create_time() is derived from the boot time, which Linux gives in whole seconds.
CREATE_TIME_SLACK = 2.0


class StorageUnreadable(Exception):
    """Whether the run's files are complete cannot be told now: its folder could not be read."""


def complete_manifest(run: BackupRun) -> dict | None:
    """The run's manifest when storage holds it complete (every file at its size) and it is this run's; else None.

    Raises StorageUnreadable when the storage itself failed: then nobody knows, and nothing may be deleted.
    """
    if not run.storage_prefix or run.kind != BackupRun.Kind.LOGICAL:
        return None
    try:
        data = manifest.read_checked(backup_storage(), run.storage_prefix)
    except manifest.ManifestProblem:
        return None
    except Exception as exc:
        raise StorageUnreadable(str(exc)) from exc
    return data if data["run"].get("uuid") == str(run.uuid) else None


def _repaired_from_storage(run: BackupRun) -> bool | None:
    """True: the run was complete in storage and is now succeeded (or changed meanwhile). False: reap it.

    None: its storage could not be read; it is failed without touching its files (a re-index finds it if complete).
    """
    try:
        data = complete_manifest(run)
    except StorageUnreadable as exc:
        logger.warning("backup run %s: cannot tell whether its files are complete: %s", run.pk, exc)
        return None
    if data is None:
        return False
    note = _("%(when)s the catalog showed this run running without a worker; its complete manifest is in storage, "
             "so it was marked succeeded from it (its files kept)") % {"when": timezone.now().isoformat()}
    backup_run_repair_from_manifest(run=run, data=data, note=note)
    logger.warning("backup run %s: complete in storage, marked succeeded from its manifest", run.pk)
    return True


def backup_runs_reap_stale() -> list[BackupRun]:
    """Mark runs without a heartbeat for BACKUP_STALE_AFTER failed ("worker lost") and delete their files.

    A run whose complete manifest is in storage is not lost but unrecorded (a restore of the portal's database taken
    mid-run brings it back "running"): it is marked succeeded from the manifest and its files are kept.
    """
    limit = timezone.now() - settings.BACKUP_STALE_AFTER
    reaped = []
    stale_running = BackupRun.objects.filter(status=BackupRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, started_at__lt=limit)
    )
    keep_files: set[int] = set()
    for run in stale_running:
        repaired = _repaired_from_storage(run)
        if repaired:
            continue
        if repaired is None:
            keep_files.add(run.pk)
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
    for run in reaped:
        if run.pk not in keep_files:
            remove_files_of(run.storage_prefix)
            BackupArtifact.objects.filter(run=run).delete()
        run.refresh_from_db()
        announce_failure(run, source=run.current_artifact)
    return reaped


def worker_process_gone(*, host: str, pid: int | None, started_at: datetime | None) -> bool:
    """True only when certain: the run's worker was a process on this host and that process no longer exists.

    A pid reused by a younger process (created after the run started) is gone too; a zombie is gone. Another host's
    process, or a process this one may not inspect, is not known to be gone: its heartbeat decides.
    """
    if not pid or host != host_name():
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        created = process.create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
    return started_at is not None and created > started_at.timestamp() + CREATE_TIME_SLACK


def backup_runs_reap_dead_workers() -> list[BackupRun]:
    """Fail at once the running backups whose worker process on this host is gone; delete their files."""
    reaped = []
    running = BackupRun.objects.filter(status=BackupRun.Status.RUNNING, worker_host=host_name())
    for run in running:
        if not worker_process_gone(host=run.worker_host, pid=run.worker_pid, started_at=run.started_at):
            continue
        recorded = journal_cause(run.pk, str(run.uuid))
        # A failure journalled on this host is the run's real ending; otherwise a complete run is repaired, not reaped.
        repaired = _repaired_from_storage(run) if recorded is None else False
        if repaired:
            continue
        error = recorded.error if recorded is not None else _(
            "worker lost: process %(pid)s on %(host)s is gone (last heartbeat %(when)s)"
        ) % {
            "pid": run.worker_pid,
            "host": run.worker_host,
            "when": run.heartbeat_at.isoformat() if run.heartbeat_at else "?",
        }
        claimed = BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.RUNNING, worker_pid=run.worker_pid)
        if claimed.update(status=BackupRun.Status.FAILED, finished_at=timezone.now(), error=error):
            logger.warning("backup run %s: %s", run.pk, error)
            if repaired is False:  # None: the storage could not be read, so its files are not known to be partial
                remove_files_of(run.storage_prefix)
                BackupArtifact.objects.filter(run=run).delete()
            run.refresh_from_db()
            announce_failure(run, source=recorded.source if recorded is not None else run.current_artifact)
            reaped.append(run)
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
