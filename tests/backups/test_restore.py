"""Restore: refusals come first and touch nothing; then a safety backup; the catalog survives its own restore."""

from __future__ import annotations

import subprocess

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from backups.models import BackupRun, RestoreRun
from backups.services.restore import restore_run_create_and_execute
from backups.signals import restore_finished
from tests.opsportal.embedded import manage

pytestmark = pytest.mark.django_db(transaction=True)


def test_restoring_the_portal_database_takes_a_safety_backup_and_keeps_the_catalog(backup_dir, run_backup):
    User = get_user_model()
    User.objects.create_user("alice")
    run = run_backup()
    User.objects.filter(username="alice").delete()
    User.objects.create_user("bob")

    finished = []
    restore_finished.connect(lambda sender, restore, **kw: finished.append(restore.pk), weak=False, dispatch_uid="t")
    try:
        call_command("restore", str(run.pk), "--yes")
    finally:
        restore_finished.disconnect(dispatch_uid="t")

    assert set(User.objects.values_list("username", flat=True)) == {"alice"}
    restore = RestoreRun.objects.get()
    assert restore.pk == finished[0]
    assert restore.status == RestoreRun.Status.SUCCEEDED
    assert restore.source_run_id == run.pk
    # The dump was taken while the run was "running"; re-indexing from its manifest makes it succeeded again.
    assert BackupRun.objects.get(pk=run.pk).status == BackupRun.Status.SUCCEEDED
    safety = restore.safety_run
    assert safety.trigger == BackupRun.Trigger.SAFETY and safety.status == BackupRun.Status.SUCCEEDED
    assert safety.artifacts.get().kind == "database"
    # The safety backup really holds the state before the restore (bob), and new runs get fresh ids.
    assert safety.artifacts.get().metadata["row_counts"]["public.auth_user"] == 1
    assert BackupRun.objects.create(trigger=BackupRun.Trigger.CLI).pk > safety.pk


@pytest.mark.security
def test_wrong_or_missing_age_key_is_refused_with_a_clear_message(
    backup_dir, encrypted, settings, tmp_path, run_backup
):
    run = run_backup()
    settings.BACKUP_AGE_IDENTITY_FILE = ""
    restore = restore_run_create_and_execute(run_id=run.pk)
    assert restore.status == RestoreRun.Status.REFUSED
    assert "BACKUP_AGE_IDENTITY_FILE" in restore.error

    other = tmp_path / "other-key.txt"
    subprocess.run(["age-keygen", "-o", str(other)], check=True, capture_output=True)
    settings.BACKUP_AGE_IDENTITY_FILE = str(other)
    with pytest.raises(CommandError, match="does not open this backup"):
        call_command("restore", str(run.pk), "--yes")
    assert BackupRun.objects.count() == 1  # refused before the safety backup


def test_a_sqlite_backup_is_refused_for_postgresql(backup_dir, tmp_path):
    # The embedded default (SQLite) backs up into the same storage; the catalog learns of it from its manifest.
    var = tmp_path / "embedded"
    manage(var, "migrate", "-v0", BACKUP_DIR=str(backup_dir), SECRET_KEY="embedded-test-key")
    manage(var, "backup", BACKUP_DIR=str(backup_dir), SECRET_KEY="embedded-test-key")
    call_command("backup", "--reindex")
    run = BackupRun.objects.get()
    assert run.artifacts.get(kind="database").format == "sqlite3"

    restore = restore_run_create_and_execute(run_id=run.pk)
    assert restore.status == RestoreRun.Status.REFUSED
    assert "SQLite database; it cannot be restored into PostgreSQL" in restore.error


def test_a_file_is_restored_and_the_previous_one_kept_beside_it(backup_dir, settings, tmp_path, run_backup):
    env_file = tmp_path / "app.env"
    env_file.write_text("TOKEN=old\n")
    settings.BACKUP_FILES = [str(env_file)]
    run = run_backup()
    env_file.write_text("TOKEN=changed\n")

    restore = restore_run_create_and_execute(run_id=run.pk, only=f"file:{env_file}")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert env_file.read_text() == "TOKEN=old\n"
    kept = list(tmp_path.glob("app.env.before-restore-*"))
    assert len(kept) == 1 and kept[0].read_text() == "TOKEN=changed\n"
    assert env_file.stat().st_mode & 0o777 == 0o600 and kept[0].stat().st_mode & 0o777 == 0o600


def test_restore_asks_for_the_database_name_unless_yes(backup_dir, run_backup, monkeypatch):
    run = run_backup()
    monkeypatch.setattr("builtins.input", lambda: "not-the-name")
    with pytest.raises(CommandError, match="cancelled"):
        call_command("restore", str(run.pk))
    assert not RestoreRun.objects.exists()


def test_a_restore_counts_every_decoded_byte_as_its_progress(backup_dir, run_backup, new_database_url, tmp_path):
    """Into a new database (streamed) and a file: the restore's progress ends at the artifacts' raw size."""
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    database = run.artifacts.get(kind="database")
    restore = restore_run_create_and_execute(run_id=run.pk, only="database", into=new_database_url())
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    restore.refresh_from_db()
    assert restore.bytes_total == database.raw_bytes
    assert restore.bytes_done == database.raw_bytes  # every byte decoded was counted, none twice
