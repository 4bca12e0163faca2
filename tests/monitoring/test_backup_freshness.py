"""The RPO check counts only complete backups of every configured source, manual or scheduled.

A safety backup taken by a restore, or a partial run (`only=`), holds some sources only: neither may hide that the
complete backups stopped. Every run here is a real backup, and the safety backup comes from a real in-place restore
(of a second database alias, an SQLite file, so the catalog in the test database is not replaced).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backups.models import BackupRun, RestoreRun
from backups.services.backup import backup_run_create, backup_run_execute
from backups.services.restore import restore_run_create_and_execute
from monitoring.models import Status
from tests.backups.conftest import sqlite_database_alias
from tests.monitoring.test_checks import run_one

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def env_file(settings, tmp_path):
    path = tmp_path / ".env"
    path.write_text("SECRET_KEY=freshness\n")
    settings.BACKUP_FILES = [str(path)]
    return path


def age(run: BackupRun, hours: float) -> BackupRun:
    BackupRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=hours))
    run.refresh_from_db()
    return run


@pytest.fixture
def second_database(settings, tmp_path):
    with sqlite_database_alias("embedded", tmp_path / "embedded.sqlite3"):
        settings.BACKUP_DATABASES = ["default", "embedded"]
        yield "embedded"


def test_a_safety_backup_after_a_restore_does_not_count_as_a_fresh_backup(
    settings, backup_dir, second_database, run_backup
):
    settings.BACKUP_RPO = timedelta(hours=26)
    complete = age(run_backup(), 30)  # the nightly backups stopped 30 h ago

    restore = restore_run_create_and_execute(run_id=complete.pk, only=f"database:{second_database}")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    safety = BackupRun.objects.get(trigger=BackupRun.Trigger.SAFETY)
    assert safety.status == BackupRun.Status.SUCCEEDED  # 0.0 h old, but of one source only

    result = run_one("backups")

    assert result.status == Status.WARNING
    assert result.message == "last successful backup 30.0 h ago, older than the RPO"
    assert result.values["run"] == str(complete.pk)


def test_a_partial_backup_does_not_count_but_a_complete_manual_one_does(settings, backup_dir, env_file, run_backup):
    settings.BACKUP_RPO = timedelta(hours=26)
    complete = age(run_backup(), 60)
    partial = backup_run_create(trigger=BackupRun.Trigger.MANUAL, only=["database"])
    assert backup_run_execute(run_id=partial.pk).status == BackupRun.Status.SUCCEEDED

    result = run_one("backups")
    assert result.status == Status.CRITICAL
    assert result.values["run"] == str(complete.pk)

    manual = backup_run_create(trigger=BackupRun.Trigger.MANUAL)  # "Run backup now": every source
    assert backup_run_execute(run_id=manual.pk).status == BackupRun.Status.SUCCEEDED
    result = run_one("backups")
    assert result.status == Status.OK
    assert result.values["run"] == str(manual.pk)


def test_a_backup_from_before_a_source_was_added_is_not_complete(settings, backup_dir, tmp_path, run_backup):
    settings.BACKUP_FILES = []
    run_backup()
    added = tmp_path / "added.env"
    added.write_text("X=1\n")
    settings.BACKUP_FILES = [str(added)]  # a new source: no backup holds it yet

    result = run_one("backups")

    assert result.status == Status.WARNING
    assert result.message == "no complete backup of every configured source yet"
