"""A restore over the originals holds off backups; a second restore of the same target is refused, never queued."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupRun, RestoreRun
from backups.services.backup import BackupBusy, backup_run_create, backup_run_execute
from backups.services.restore import RestoreBusy, restore_run_create, restore_run_execute

pytestmark = pytest.mark.django_db


def _running(restore: RestoreRun) -> RestoreRun:
    """What the worker's claim writes when it starts the restore (restore_run_execute)."""
    now = timezone.now()
    RestoreRun.objects.filter(pk=restore.pk).update(status=RestoreRun.Status.RUNNING, started_at=now,
                                                    heartbeat_at=now)
    restore.refresh_from_db()
    return restore


@pytest.fixture
def env_backup(settings, backup_dir, tmp_path, run_backup) -> BackupRun:
    env_file = tmp_path / "portal.env"
    env_file.write_text("SECRET=before\n")
    settings.BACKUP_FILES = [str(env_file)]
    return run_backup(only=[f"file:{env_file}"])


def test_a_backup_is_refused_while_a_restore_over_the_originals_runs_and_accepted_after(env_backup):
    restore = _running(restore_run_create(run_id=env_backup.pk, actor="test"))
    with pytest.raises(BackupBusy) as refused:
        backup_run_create(trigger=BackupRun.Trigger.MANUAL, actor="test")
    assert f"Restore #{restore.pk} is running" in str(refused.value)
    assert refused.value.restore == restore and refused.value.run is None
    # the restore's own safety backup is the one it allows
    safety = backup_run_create(trigger=BackupRun.Trigger.SAFETY, actor="test", only=["file:x"])
    BackupRun.objects.filter(pk=safety.pk).delete()

    RestoreRun.objects.filter(pk=restore.pk).update(status=RestoreRun.Status.SUCCEEDED, finished_at=timezone.now())
    run = backup_run_execute(run_id=backup_run_create(trigger=BackupRun.Trigger.MANUAL, actor="test").pk)
    assert run.status == BackupRun.Status.SUCCEEDED, run.error


def test_a_restore_into_another_database_does_not_hold_off_backups(env_backup):
    _running(restore_run_create(run_id=env_backup.pk, into="postgres://postgres@127.0.0.1:5432/elsewhere",
                                actor="test"))
    assert backup_run_create(trigger=BackupRun.Trigger.MANUAL, actor="test").status == BackupRun.Status.QUEUED


def test_a_second_restore_of_the_same_target_is_refused_while_the_first_is_queued(env_backup, settings):
    first = restore_run_create(run_id=env_backup.pk, actor="test")
    with pytest.raises(RestoreBusy) as refused:
        restore_run_create(run_id=env_backup.pk, actor="test")
    assert f"Restore #{first.pk} of the same target is already queued" in str(refused.value)
    assert RestoreRun.objects.count() == 1
    with pytest.raises(CommandError, match=f"Restore #{first.pk} of the same target is already queued"):
        call_command("restore", str(env_backup.pk), "--yes")
    assert RestoreRun.objects.count() == 1
    # another target is not in the way
    other = restore_run_create(run_id=env_backup.pk, into="postgres://postgres@127.0.0.1:5432/elsewhere",
                               actor="test")
    assert other.status == RestoreRun.Status.QUEUED
    # once the first has run, the same target can be restored again
    assert restore_run_execute(restore_id=first.pk).status == RestoreRun.Status.SUCCEEDED
    assert restore_run_create(run_id=env_backup.pk, actor="test").status == RestoreRun.Status.QUEUED


def test_the_admin_says_nothing_was_started_and_links_the_restore_in_the_way(env_backup, super_client):
    first = restore_run_create(run_id=env_backup.pk, actor="test")
    response = super_client.post(reverse("admin:backups_backuprun_restore", args=[env_backup.pk]),
                                 {"confirmation": "restore"}, follow=True)
    page = response.content.decode()
    assert "Nothing was started." in page and f"Restore #{first.pk} of the same target" in page
    assert reverse("admin:backups_restorerun_change", args=[first.pk]) in page
    assert RestoreRun.objects.count() == 1


def test_run_backup_now_names_the_running_restore(env_backup, super_client):
    restore = _running(restore_run_create(run_id=env_backup.pk, actor="test"))
    response = super_client.post(reverse("admin:backups_backuprun_run_now"), follow=True)
    page = response.content.decode()
    assert "Nothing was started." in page and f"Restore #{restore.pk} is running" in page
    assert BackupRun.objects.count() == 1


def test_restore_of_a_backup_that_does_not_exist_says_so_before_asking_and_leaves_no_record(db):
    with pytest.raises(CommandError) as refused:
        call_command("restore", "9999")  # no --yes: it must not get as far as asking
    assert str(refused.value) == "There is no backup #9999."
    assert not RestoreRun.objects.exists()


def test_restore_asks_naming_the_database_it_overwrites_and_prints_the_outcome_once(
    env_backup, monkeypatch, capsys, settings
):
    from django.db import connection

    run = backup_run_execute(run_id=backup_run_create(trigger=BackupRun.Trigger.MANUAL, actor="test").pk)
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    monkeypatch.setattr("builtins.input", lambda: "not-the-name")
    with pytest.raises(CommandError, match="Restore cancelled; nothing was touched."):
        call_command("restore", str(run.pk))
    asked = capsys.readouterr().out
    name = connection.settings_dict["NAME"]
    assert f"This overwrites the database {name} with backup #{run.pk}. Type {name} to go on:" in asked
    assert not RestoreRun.objects.exists()
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(run.pk), "--yes", "--only", "database:nosuch")
    printed = capsys.readouterr().out
    assert str(refused.value).startswith(f"Restore #{RestoreRun.objects.get().pk} refused: ")
    assert "refused:" not in printed  # the reason once, as the command's error


def test_a_restore_recorded_without_a_status_waits_for_a_worker_which_carries_it_out(env_backup):
    # A new RestoreRun is queued until a worker claims it; were it born "running", no worker would ever claim it.
    restore = RestoreRun.objects.create(source_run=env_backup, source_run_uuid=env_backup.uuid, target="file")
    assert restore.status == RestoreRun.Status.QUEUED
    done = restore_run_execute(restore_id=restore.pk)
    assert done is not None and done.status == RestoreRun.Status.SUCCEEDED, done and done.error
