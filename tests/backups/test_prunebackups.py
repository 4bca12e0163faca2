"""`manage.py prunebackups [--dry-run]` and the hourly prune: files and records go together, or neither."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backups.models import BackupRun
from backups.services.retention import RetentionPolicy, backup_runs_prune, retention_decide
from backups.tasks import prune_backups
from tests.backups.conftest import files_under

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_backups(backup_dir, settings, run_backup) -> list[BackupRun]:
    """Three real backups (files in storage), 100, 50 and 0 days old; the policy keeps only the newest."""
    settings.BACKUP_KEEP_LAST = 1
    settings.BACKUP_KEEP_DAILY = 1
    settings.BACKUP_KEEP_WEEKLY = 0
    settings.BACKUP_KEEP_MONTHLY = 0
    settings.BACKUP_MAX_AGE = timedelta(days=400)
    runs = []
    for age in (100, 50, 0):
        run = run_backup()
        BackupRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=age))
        run.refresh_from_db()
        runs.append(run)
    return runs


def run_command(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("prunebackups", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_dry_run_prints_keep_and_delete_with_reasons_and_touches_nothing(three_backups, backup_dir):
    oldest, middle, newest = three_backups
    before = files_under(backup_dir)

    out, _ = run_command("--dry-run")

    assert "Retention policy: keep the last 1 successful backup" in out
    assert f"#{newest.pk} " in out and "keep (one of the last 1; daily: newest of" in out
    assert f"#{oldest.pk} " in out and "would delete (not needed by any rule)" in out
    assert "1 kept, 2 would be deleted; nothing was touched" in out
    assert files_under(backup_dir) == before and BackupRun.objects.count() == 3


def test_prune_deletes_files_and_records_together_and_never_a_pinned_run(three_backups, backup_dir):
    oldest, middle, newest = three_backups
    BackupRun.objects.filter(pk=middle.pk).update(pinned=True)

    out, _ = run_command()

    assert "1 backup(s) deleted, 2 kept." in out
    assert f"#{middle.pk} " in out and "keep (pinned)" in out
    assert set(BackupRun.objects.values_list("pk", flat=True)) == {middle.pk, newest.pk}
    remaining = files_under(backup_dir)
    assert not any(name.startswith(oldest.storage_prefix) for name in remaining)
    assert any(name.startswith(middle.storage_prefix) for name in remaining)
    assert any(name.startswith(newest.storage_prefix) for name in remaining)


def test_the_newest_verified_backup_survives_even_when_old(three_backups):
    oldest, middle, newest = three_backups
    BackupRun.objects.filter(pk=oldest.pk).update(verification=BackupRun.Verification.VERIFIED)
    assert prune_backups() == 1  # the hourly task: only the middle one goes
    assert set(BackupRun.objects.values_list("pk", flat=True)) == {oldest.pk, newest.pk}


def test_a_file_that_cannot_be_deleted_is_reported_and_its_run_kept(three_backups, backup_dir):
    oldest, middle, newest = three_backups
    stuck = oldest.artifacts.get()
    (backup_dir / stuck.path).unlink()
    (backup_dir / stuck.path / "in-the-way").mkdir(parents=True)

    err = StringIO()
    with pytest.raises(CommandError, match="could not be deleted completely"):
        call_command("prunebackups", stdout=StringIO(), stderr=err)
    assert f"#{oldest.pk}: could not delete {stuck.path}" in err.getvalue()
    oldest.refresh_from_db()  # kept, so the file is not forgotten
    assert f"could not delete {stuck.path}" in oldest.log
    assert not BackupRun.objects.filter(pk=middle.pk).exists()  # the others were pruned all the same

    (backup_dir / stuck.path / "in-the-way").rmdir()  # fixed by an operator: the next prune finishes the job
    assert prune_backups() == 1
    assert not BackupRun.objects.filter(pk=oldest.pk).exists()
    assert not any(name.startswith(oldest.storage_prefix) for name in files_under(backup_dir))


def test_thousands_of_runs_are_decided_in_one_query_exactly_as_the_policy_says(backup_dir, settings):
    """3,000 runs (one every 4 hours for 500 days, some failed, pinned, verified, partial); the dry run reads them
    with one query and keeps exactly the runs the policy keeps when given the full records."""
    settings.BACKUP_KEEP_LAST = 5
    settings.BACKUP_KEEP_DAILY = 7
    settings.BACKUP_KEEP_WEEKLY = 4
    settings.BACKUP_KEEP_MONTHLY = 6
    settings.BACKUP_MAX_AGE = timedelta(days=400)
    now = timezone.now()
    runs = [
        BackupRun(
            status=BackupRun.Status.FAILED if n % 13 == 0 else BackupRun.Status.SUCCEEDED,
            trigger=BackupRun.Trigger.SAFETY if n % 29 == 0 else BackupRun.Trigger.SCHEDULED,
            only=["database:default"] if n % 29 == 0 else [],
            pinned=n == 2_500,
            verification=BackupRun.Verification.VERIFIED if n in (1_000, 1_200) else "",
            log="pg_dump: done\n" * 100,
        )
        for n in range(3_000)
    ]
    BackupRun.objects.bulk_create(runs)
    for n, run in enumerate(runs):
        run.created_at = now - timedelta(hours=4 * n)
    BackupRun.objects.bulk_update(runs, ["created_at"], batch_size=500)
    expected = {
        d.run.pk: d
        for d in retention_decide(runs=BackupRun.objects.all(), policy=RetentionPolicy.from_settings(), now=now)
    }

    with CaptureQueriesContext(connection) as queries:
        report = backup_runs_prune(dry_run=True, now=now)
    assert len(queries) == 1 and '"log"' not in queries[0]["sql"]
    assert {d.run.pk: (d.keep, d.reasons) for d in report.decisions} == {
        pk: (d.keep, d.reasons) for pk, d in expected.items()
    }
    kept = {d.run.pk for d in report.decisions if d.keep}
    assert {runs[2_500].pk, runs[1_000].pk} <= kept and runs[1_200].pk not in kept  # pinned; the newest verified
    assert 5 + 7 < len(kept) < 5 + 7 + 4 + 6 + 10

    out, _ = run_command("--dry-run")
    assert out.count(": keep (") == len(kept) and out.count(": would delete (") == 3_000 - len(kept)
    assert f"{len(kept)} kept, {3_000 - len(kept)} would be deleted; nothing was touched" in out
    assert BackupRun.objects.count() == 3_000


def test_a_real_prune_of_hundreds_of_runs_deletes_exactly_what_the_dry_run_said(backup_dir, settings):
    settings.BACKUP_KEEP_LAST = 3
    settings.BACKUP_KEEP_DAILY = 3
    settings.BACKUP_KEEP_WEEKLY = 2
    settings.BACKUP_KEEP_MONTHLY = 2
    settings.BACKUP_MAX_AGE = timedelta(days=400)
    now = timezone.now()
    runs = BackupRun.objects.bulk_create(BackupRun(status=BackupRun.Status.SUCCEEDED) for _ in range(1_100))
    for n, run in enumerate(runs):
        run.created_at = now - timedelta(hours=6 * n)
    BackupRun.objects.bulk_update(runs, ["created_at"], batch_size=500)
    planned = backup_runs_prune(dry_run=True, now=now)
    BackupRun.objects.filter(pk=planned.to_delete[-1].run.pk).update(pinned=True)  # pinned after the decision

    report = backup_runs_prune(now=now)

    kept = {d.run.pk for d in planned.decisions if d.keep} | {planned.to_delete[-1].run.pk}
    assert set(BackupRun.objects.values_list("pk", flat=True)) == kept
    assert len(report.deleted) == 1_100 - len(kept) and not report.undeletable
