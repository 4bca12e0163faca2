"""Default schedules (created idempotently, an admin's edits survive migrate), the scheduled tasks, and signals."""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from backups import schedules
from backups.models import BackupRun, RestoreRun
from backups.services.backup import backup_run_create
from backups.services.restore import restore_run_create_and_execute
from backups.signals import backup_failed, backup_succeeded, restore_finished
from backups.tasks import drill_latest_backup, run_scheduled_backup

pytestmark = pytest.mark.django_db


def test_default_schedules_exist_on_the_backups_queue():
    tasks = {t.name: t for t in PeriodicTask.objects.filter(name__startswith="backups: ")}
    assert set(tasks) == {schedules.NIGHTLY_BACKUP, schedules.WEEKLY_DRILL, schedules.HOURLY_PRUNE, schedules.REAPER}
    assert all(t.queue == "backups" and t.enabled for t in tasks.values())
    nightly = tasks[schedules.NIGHTLY_BACKUP]
    assert nightly.task == "backups.tasks.run_scheduled_backup"
    assert (nightly.crontab.hour, nightly.crontab.minute) == ("3", "0")
    assert tasks[schedules.WEEKLY_DRILL].crontab.day_of_week == "0"
    assert tasks[schedules.HOURLY_PRUNE].crontab.hour == "*"


def test_migrate_twice_keeps_an_admins_edit_and_creates_no_duplicate():
    call_command("migrate", verbosity=0)
    nightly = PeriodicTask.objects.get(name=schedules.NIGHTLY_BACKUP)
    nightly.crontab, _ = CrontabSchedule.objects.get_or_create(minute="30", hour="1", timezone="UTC")
    nightly.enabled = False
    nightly.save()

    call_command("migrate", verbosity=0)

    nightly = PeriodicTask.objects.get(name=schedules.NIGHTLY_BACKUP)
    assert (nightly.crontab.hour, nightly.crontab.minute, nightly.enabled) == ("1", "30", False)
    assert PeriodicTask.objects.filter(name__startswith="backups: ").count() == 4


def test_the_nightly_task_records_trigger_scheduled_and_sends_backup_succeeded(backup_dir):
    received = []
    backup_succeeded.connect(lambda sender, run, **kw: received.append(run.pk), weak=False, dispatch_uid="t1")
    try:
        run_id = run_scheduled_backup()
    finally:
        backup_succeeded.disconnect(dispatch_uid="t1")
    run = BackupRun.objects.get(pk=run_id)
    assert run.trigger == BackupRun.Trigger.SCHEDULED and run.status == BackupRun.Status.SUCCEEDED
    assert received == [run_id]


def test_a_failed_scheduled_backup_is_logged_at_error_with_the_run_id(backup_dir, settings, tmp_path, caplog):
    settings.BACKUP_FILES = [str(tmp_path / "missing.env")]
    received = []
    backup_failed.connect(lambda sender, failure, **kw: received.append(failure.run_id), weak=False,
                          dispatch_uid="t2")
    try:
        with caplog.at_level(logging.INFO, logger="backups"):
            run_id = run_scheduled_backup()
    finally:
        backup_failed.disconnect(dispatch_uid="t2")
    assert received == [run_id]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"scheduled backup run {run_id} failed" in errors[0].getMessage()
    assert "missing.env" in errors[0].getMessage()


def test_a_failed_manual_backup_is_not_logged_as_a_scheduled_failure(
    backup_dir, settings, tmp_path, caplog, run_backup
):
    settings.BACKUP_FILES = [str(tmp_path / "missing.env")]
    with caplog.at_level(logging.INFO, logger="backups"):
        assert run_backup().status == BackupRun.Status.FAILED
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_nightly_task_skips_while_another_backup_runs(backup_dir, caplog):
    busy = backup_run_create(trigger=BackupRun.Trigger.MANUAL)
    with caplog.at_level(logging.WARNING, logger="backups"):
        assert run_scheduled_backup() is None
    assert f"#{busy.pk}" in caplog.text and BackupRun.objects.count() == 1


def test_the_weekly_drill_restores_the_latest_complete_backup(backup_dir, run_backup):
    older = run_backup()
    latest = run_backup()
    BackupRun.objects.create(status=BackupRun.Status.SUCCEEDED, trigger=BackupRun.Trigger.SAFETY, only=["file"])
    drill_latest_backup()
    latest.refresh_from_db()
    older.refresh_from_db()
    assert latest.verification == BackupRun.Verification.DRILL_PASSED and latest.drill_rto_seconds
    assert older.verification == ""


def test_restore_finished_is_sent_with_the_restore(backup_dir):
    received = []
    restore_finished.connect(lambda sender, restore, **kw: received.append(restore), weak=False, dispatch_uid="t3")
    try:
        failed = BackupRun.objects.create(status=BackupRun.Status.FAILED)
        restore = restore_run_create_and_execute(run_id=failed.pk)
    finally:
        restore_finished.disconnect(dispatch_uid="t3")
    assert restore.status == RestoreRun.Status.REFUSED
    assert [r.pk for r in received] == [restore.pk]
    assert restore_run_create_and_execute(run_id=999_999).error == "There is no backup #999999."
