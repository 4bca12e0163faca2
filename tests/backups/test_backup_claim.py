"""One backup at a time: a second trigger is refused, a redelivered task does nothing, the database enforces it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backups.models import BackupRun
from backups.services.backup import BackupBusy, backup_run_create, backup_run_execute
from backups.signals import backup_failed, backup_succeeded
from backups.tasks import run_backup

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_second_trigger_while_one_is_queued_is_refused_and_creates_nothing(backup_dir):
    first = backup_run_create(trigger=BackupRun.Trigger.CLI)
    with pytest.raises(BackupBusy, match=f"#{first.pk}"):
        backup_run_create(trigger=BackupRun.Trigger.MANUAL)
    with pytest.raises(CommandError, match="already"):
        call_command("backup")
    assert BackupRun.objects.count() == 1


def test_a_redelivered_message_does_nothing(backup_dir):
    run = backup_run_create(trigger=BackupRun.Trigger.CLI)
    run_backup(run.pk)
    run.refresh_from_db()
    assert run.status == BackupRun.Status.SUCCEEDED
    finished = run.finished_at
    run_backup(run.pk)  # the broker hands the same message out again
    run.refresh_from_db()
    assert run.status == BackupRun.Status.SUCCEEDED and run.finished_at == finished
    assert run.artifacts.count() == 1


def test_the_database_refuses_a_second_running_run(backup_dir):
    running = BackupRun.objects.create(status=BackupRun.Status.RUNNING, trigger=BackupRun.Trigger.CLI)
    queued = BackupRun.objects.create(status=BackupRun.Status.QUEUED, trigger=BackupRun.Trigger.SCHEDULED)
    failures = []
    backup_failed.connect(lambda sender, failure, **kw: failures.append(failure.run_id), weak=False,
                          dispatch_uid="t-claim")
    try:
        result = backup_run_execute(run_id=queued.pk)
    finally:
        backup_failed.disconnect(dispatch_uid="t-claim")
    assert result.status == BackupRun.Status.FAILED
    assert "Another backup was running" in result.error
    assert failures == [queued.pk]
    assert BackupRun.objects.filter(status=BackupRun.Status.RUNNING).get() == running


def test_success_sends_backup_succeeded_with_the_run(backup_dir, run_backup):
    received = []
    backup_succeeded.connect(lambda sender, run, **kw: received.append(run), weak=False, dispatch_uid="t-ok")
    try:
        run = run_backup()
    finally:
        backup_succeeded.disconnect(dispatch_uid="t-ok")
    assert [r.pk for r in received] == [run.pk]
    assert received[0].status == BackupRun.Status.SUCCEEDED


@pytest.mark.faults
def test_simultaneous_triggers_create_exactly_one_run(backup_dir):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def trigger(_: int) -> str:
        try:
            backup_run_create(trigger=BackupRun.Trigger.API)
            return "created"
        except BackupBusy:
            return "busy"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(trigger, range(4)))
    assert outcomes == ["busy", "busy", "busy", "created"]
    assert BackupRun.objects.count() == 1
