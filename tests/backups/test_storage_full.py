"""Storage that runs out of space: the run fails naming the source, and nothing is left behind."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backups.models import BackupRun
from tests.backups.conftest import files_under

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def small_tmpfs(tmp_path) -> Iterator[Path]:
    mountpoint = tmp_path / "full"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def test_enospc_fails_the_run_and_removes_the_partial_file(settings, backup_dir, small_tmpfs, tmp_path, run_backup):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": "backups.storage.BackupFileSystemStorage", "OPTIONS": {"location": str(small_tmpfs)}},
    }
    incompressible = tmp_path / "random.bin"
    incompressible.write_bytes(os.urandom(1024 * 1024))
    settings.BACKUP_FILES = [str(incompressible)]

    run = run_backup()

    assert run.status == BackupRun.Status.FAILED
    assert f"file:{incompressible}" in run.error and "No space left" in run.error
    assert files_under(small_tmpfs) == []
    assert not run.artifacts.exists()
