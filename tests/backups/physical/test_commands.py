"""The command line: physicalbackup, restorepoint, restore --to-time/--in-place, backup --reindex."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from backups.models import BackupRun, RestoreRun
from backups.physical.info import stanza_info
from tests.backups.physical.conftest import moment_between_commits, order_ids, write_rows
from tests.conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def test_physicalbackup_then_restore_to_time_into_a_new_directory_and_port(physical, capsys):
    write_rows(physical, range(1, 4))
    call_command("physicalbackup", "--type", "full")
    assert "succeeded" in capsys.readouterr().out
    target = moment_between_commits(physical)
    write_rows(physical, range(4, 7))
    call_command("restorepoint", "after-six")  # also waits until its WAL is archived
    port = free_port()
    call_command("restore", "--to-time", target, "--pg-data", str(physical.folder / "cli-restored"), "--port", port)
    out = capsys.readouterr().out
    assert f"on port {port}" in out
    assert order_ids(port) == [1, 2, 3]
    restore = RestoreRun.objects.get()
    assert restore.kind == "physical" and restore.status == RestoreRun.Status.SUCCEEDED


def test_restore_in_place_needs_the_typed_stanza_name(physical, monkeypatch):
    call_command("physicalbackup", "--type", "full")
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    with pytest.raises(CommandError, match="nothing was touched"):
        call_command("restore", "--latest", "--in-place")
    assert not RestoreRun.objects.exists()
    with pytest.raises(CommandError, match="--pg-data DIR --port PORT"):
        call_command("restore", "--latest")


def test_backup_reindex_rebuilds_the_physical_catalog_from_pgbackrest(physical, capsys):
    call_command("physicalbackup", "--type", "full")
    call_command("physicalbackup", "--type", "incr")
    original = {run.uuid: (run.physical_type, run.artifacts.get().path) for run in BackupRun.objects.all()}
    BackupRun.objects.all().delete()
    call_command("backup", "--reindex")
    rebuilt = {run.uuid: (run.physical_type, run.artifacts.get().path) for run in BackupRun.objects.all()}
    assert rebuilt == original
    assert {label for _, label in rebuilt.values()} == {b.label for b in stanza_info().backups}


def test_physicalbackup_without_a_stanza_setting_says_what_to_set(settings):
    settings.BACKUP_PGBACKREST_STANZA = ""
    with pytest.raises(CommandError, match="BACKUP_PGBACKREST_STANZA"):
        call_command("physicalbackup")
