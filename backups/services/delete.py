"""Deleting a backup run: its files in storage first, then its record — never a record whose files remain."""

from __future__ import annotations

import contextlib

from django.utils import timezone
from django.utils.translation import gettext as _

from backups.models import BackupRun
from backups.storage import backup_storage, local_path


class BackupRunNotDeletable(Exception):
    """The run is queued, running or pinned; nothing was deleted."""


def _files_of(run: BackupRun) -> list[str]:
    """Every stored file of the run: its artifacts, its manifest and anything else left in its folder."""
    storage = backup_storage()
    names = {artifact.path for artifact in run.artifacts.all()}
    if run.storage_prefix:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            folders, files = storage.listdir(run.storage_prefix)
            names |= {f"{run.storage_prefix}/{name}" for name in [*files, *folders]}
    return sorted(names)


def backup_run_delete(*, run: BackupRun) -> list[str]:
    """Delete the run's files, then the run; return the files that could not be deleted.

    When a file cannot be deleted the run is kept (so the file is not forgotten: the next prune or delete tries
    again) and the problem is appended to the run's log.
    """
    if run.status in (BackupRun.Status.QUEUED, BackupRun.Status.RUNNING):
        raise BackupRunNotDeletable(_("Backup #%(id)s is still %(status)s.") % {"id": run.pk, "status": run.status})
    if run.pinned:
        raise BackupRunNotDeletable(_("Backup #%(id)s is pinned; unpin it first.") % {"id": run.pk})
    if run.kind == BackupRun.Kind.PHYSICAL:  # a pgBackRest set: `pgbackrest expire --set`
        from backups.physical.retention import physical_run_delete

        return physical_run_delete(run=run)
    storage = backup_storage()
    problems: list[str] = []
    for name in _files_of(run):
        try:
            storage.delete(name)
        except Exception as exc:  # any storage error: report it, keep the record
            problems.append(f"{name}: {exc}")
    if problems:
        note = "\n".join(f"{timezone.now():%Y-%m-%d %H:%M:%S} could not delete {problem}" for problem in problems)
        BackupRun.objects.filter(pk=run.pk).update(log=f"{run.log}\n{note}".strip())
        return problems
    folder = local_path(storage, run.storage_prefix) if run.storage_prefix else None
    if folder is not None:
        with contextlib.suppress(OSError):
            folder.rmdir()
    run.delete()
    return []
