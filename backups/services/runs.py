"""Small state changes of backup runs made from the admin (pin / unpin), and the admin's requests for background
work (verify, drill, restore): the admin never enqueues a task itself, it calls these as it calls
backup_run_enqueue for "run now"."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from backups.models import BackupRun, RestoreRun


def backup_runs_set_pinned(*, runs: Iterable[BackupRun], pinned: bool) -> list[BackupRun]:
    """Pin or unpin runs; return those whose flag changed."""
    ids = [run.pk for run in runs]
    changed = list(BackupRun.objects.filter(pk__in=ids).exclude(pinned=pinned))
    BackupRun.objects.filter(pk__in=[run.pk for run in changed]).update(pinned=pinned)
    for run in changed:
        run.pinned = pinned
        if run.kind == BackupRun.Kind.PHYSICAL:  # the pin is an annotation on the pgBackRest set too
            from backups.physical.retention import physical_pin

            physical_pin(run=run, pinned=pinned)
    return changed


def backup_run_verify_enqueue(*, run_id: int, drill: bool = False) -> None:
    """Verify backup `run_id` (and with `drill`, restore it into a scratch database) on a worker, after commit."""
    from backups.tasks import verify_backup

    transaction.on_commit(lambda: verify_backup.delay(run_id, drill=drill))


def restore_run_enqueue(*, run_id: int, user: AbstractBaseUser | None = None) -> RestoreRun:
    """A queued restore of backup `run_id` (RestoreBusy if its target is already being restored), run by a worker
    after commit."""
    from backups.services.restore import restore_run_create
    from backups.tasks import run_restore

    restore = restore_run_create(run_id=run_id, user=user)
    transaction.on_commit(lambda: run_restore.delay(restore.pk))
    return restore
