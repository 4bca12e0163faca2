"""pg_restore -j reads a decoded file: in memory (BACKUP_RESTORE_MEMORY_DIR, tmpfs) when it fits, else on disk.

Issue 20 target 3: decoding to disk before pg_restore could start cost the restore a write of the whole dump and
its write-back during pg_restore. The file stays private (mode 0600 in a folder of mode 0700 that is ours), is
removed when the restore ends or, after a killed worker, by the reaper; where it does not fit it goes to disk.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
import zstandard

from backups.models import BackupRun, RestoreRun
from backups.services.restore import restore_run_create_and_execute
from backups.services.swap import decoded_file, decoding_file, memory_folder, temp_files_reap

pytestmark = pytest.mark.django_db(transaction=True)


def _original(backup_dir: Path, artifact) -> bytes:
    with (backup_dir / artifact.path).open("rb") as stored:
        return zstandard.ZstdDecompressor().stream_reader(stored).read()


def test_the_decoded_artifact_is_a_private_file_in_memory_removed_after(backup_dir, run_backup, settings):
    assert Path("/dev/shm").is_dir()
    backup = run_backup()
    assert backup.status == BackupRun.Status.SUCCEEDED, backup.error
    artifact = backup.artifacts.get(kind="database")
    with decoded_file(artifact) as path:
        assert path.parent.parent == Path("/dev/shm")  # the default BACKUP_RESTORE_MEMORY_DIR
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.parent.stat().st_mode & 0o777 == 0o700
        assert path.read_bytes() == _original(backup_dir, artifact)
    assert not path.exists()
    assert not path.parent.exists()  # the folder goes too once empty: nothing stays in memory


def test_an_in_place_restore_decodes_in_memory(backup_dir, run_backup):
    backup = run_backup()
    restore = restore_run_create_and_execute(run_id=backup.pk, actor="test")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert "decoded to /dev/shm/opsportal-restore-" in restore.log
    assert not list(Path("/dev/shm").glob(f"opsportal-restore-*/restore-{backup.pk}-*.pgdump"))


def test_a_file_that_does_not_fit_in_memory_goes_to_disk(backup_dir, run_backup, settings):
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert memory_folder(total) is None  # would leave no memory to PostgreSQL
    memory_folder(1 << 20).rmdir()  # a small one fits
    settings.BACKUP_RESTORE_MEMORY_DIR = ""  # turned off: always on disk
    backup = run_backup()
    artifact = backup.artifacts.get(kind="database")
    with decoded_file(artifact) as path:
        assert path.parent == Path(settings.VAR_DIR) / "restore-tmp"
        assert path.read_bytes() == _original(backup_dir, artifact)
    assert not path.exists()


def test_a_memory_folder_that_others_can_read_or_a_link_is_not_used(backup_dir, settings, tmp_path):
    settings.BACKUP_RESTORE_MEMORY_DIR = str(tmp_path / "mem")
    (tmp_path / "mem").mkdir()
    folder = memory_folder(1 << 20)
    assert folder is not None and folder.parent == tmp_path / "mem"
    folder.chmod(0o755)
    assert memory_folder(1 << 20) is None
    folder.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    folder.symlink_to(tmp_path / "elsewhere")
    assert memory_folder(1 << 20) is None


def test_a_failure_while_decoding_in_the_background_stops_it_and_removes_the_file(backup_dir, run_backup):
    backup = run_backup()
    artifact = backup.artifacts.get(kind="database")
    with pytest.raises(RuntimeError, match="create failed"), decoding_file(artifact) as pending:
        raise RuntimeError("create failed")  # e.g. CREATE DATABASE failed while the artifact decoded
    assert pending.done()  # the decoding thread stopped before the block was left
    assert not list(Path("/dev/shm").glob(f"opsportal-restore-*/restore-{backup.pk}-*.pgdump"))
    assert not list((Path(backup_dir).parent / "var" / "restore-tmp").glob("*.pgdump"))


def test_the_reaper_removes_a_killed_restores_file_in_memory(backup_dir, settings):
    settings.BACKUP_STALE_AFTER = timedelta(minutes=10)
    folder = memory_folder(1 << 20)
    old, fresh = folder / "restore-1-old.pgdump", folder / "restore-2-fresh.pgdump"
    old.write_bytes(b"left by a killed worker")
    fresh.write_bytes(b"a running restore's")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    try:
        assert temp_files_reap() == [old]
        assert fresh.exists() and not old.exists()
    finally:
        fresh.unlink(missing_ok=True)
        folder.rmdir()
