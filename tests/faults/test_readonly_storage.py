"""Backup storage mounted read-only: the run fails naming the cause; the existing backups stay restorable."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backups.models import BackupRun, RestoreRun
from backups.services.restore import restore_run_create_and_execute
from tests.backups.conftest import files_under

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def storage_mount(tmp_path, settings) -> Iterator[Path]:
    """A tmpfs as backup storage that the test can remount read-only (root ignores chmod, not a ro mount)."""
    mountpoint = tmp_path / "store"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mountpoint)], check=True)
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": "backups.storage.BackupFileSystemStorage", "OPTIONS": {"location": str(mountpoint)}},
    }
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def _remount(mountpoint: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mountpoint)], check=True)


def test_a_read_only_storage_fails_the_run_naming_it_and_keeps_earlier_backups(
    backup_dir, storage_mount, settings, tmp_path, run_backup
):
    env = tmp_path / "app.env"
    env.write_text("SECRET=first\n")
    settings.BACKUP_FILES = [str(env)]
    good = run_backup()
    assert good.status == BackupRun.Status.SUCCEEDED
    before = files_under(storage_mount)

    _remount(storage_mount, "ro")
    try:
        failed = run_backup()
        assert failed.status == BackupRun.Status.FAILED
        assert "Read-only file system" in failed.error
        assert files_under(storage_mount) == before  # nothing half-written, nothing of the good run removed
        assert not failed.artifacts.exists()

        # What is in storage can still be restored while it is read-only.
        env.write_text("SECRET=changed\n")
        restore = restore_run_create_and_execute(run_id=good.pk, only=f"file:{env}", actor="test")
        assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
        assert env.read_text() == "SECRET=first\n"
    finally:
        _remount(storage_mount, "rw")

    # Writable again: the next backup succeeds with no manual cleanup.
    assert run_backup().status == BackupRun.Status.SUCCEEDED
