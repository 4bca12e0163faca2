"""Small state changes of backup runs made from the admin (pin / unpin)."""

from __future__ import annotations

from collections.abc import Iterable

from backups.models import BackupRun


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
