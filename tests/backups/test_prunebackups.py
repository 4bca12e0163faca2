"""`manage.py prunebackups [--dry-run]` and the hourly prune: files and records go together, or neither."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from backups.models import BackupRun
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
