"""Physical retention through pgbackrest expire: counts from the settings, a pinned run is never expired."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from backups.models import BackupRun
from backups.physical.backup import physical_backup_create
from backups.physical.info import stanza_info
from backups.physical.retention import physical_expire, plan
from backups.services.backup import backup_run_execute
from backups.services.runs import backup_runs_set_pinned

pytestmark = pytest.mark.django_db(transaction=True)


def _backup(kind: str) -> BackupRun:
    run = backup_run_execute(run_id=physical_backup_create(backup_type=kind, trigger="cli").pk)
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    return run


def _label(run: BackupRun) -> str:
    return run.artifacts.get().path


def test_expire_keeps_the_configured_full_count_and_the_catalog_follows(physical, settings):
    settings.BACKUP_PGBACKREST_RETENTION_FULL = 1
    old, newer = _backup("full"), _backup("full")
    old_label = _label(old)
    result = physical_expire()
    assert result.expired == [old_label]
    assert [b.label for b in stanza_info().backups] == [_label(newer)]
    assert list(BackupRun.objects.filter(kind="physical").values_list("pk", flat=True)) == [newer.pk]


def test_a_pinned_full_and_what_a_pinned_incr_needs_are_never_expired(physical, settings, capsys):
    settings.BACKUP_PGBACKREST_RETENTION_FULL = 1
    first = _backup("full")
    pinned_incr = _backup("incr")
    _backup("full")
    middle = _backup("full")
    _backup("full")
    backup_runs_set_pinned(runs=[pinned_incr], pinned=True)
    assert stanza_info().find(_label(pinned_incr)).pinned  # the pin is an annotation in pgBackRest too

    result = physical_expire()

    left = {b.label for b in stanza_info().backups}
    assert _label(first) in left and _label(pinned_incr) in left  # the incr and the full it is built on
    assert result.refused == ""
    assert _label(middle) in left  # a count reaching back to the pinned set keeps what lies between
    call_command("prunebackups", "--dry-run")
    out = capsys.readouterr().out
    assert "Physical retention" in out and _label(pinned_incr) in out


def test_expire_refuses_when_the_diff_count_would_drop_a_pinned_diff(physical, settings):
    settings.BACKUP_PGBACKREST_RETENTION_FULL = 5
    settings.BACKUP_PGBACKREST_RETENTION_DIFF = 1
    _backup("full")
    pinned_diff = _backup("diff")
    _backup("diff")
    backup_runs_set_pinned(runs=[pinned_diff], pinned=True)
    result = plan()
    assert _label(pinned_diff) in result.refused
    assert physical_expire().expired == []
    assert stanza_info().find(_label(pinned_diff)) is not None
