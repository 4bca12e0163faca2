"""A zstd bomb swapped into a backup, checksums fixed up: `head -c 3G /dev/zero | zstd -3` is about 100 KB.

Every decode stops with a clear error once it passes the artifact's recorded raw_bytes: the drill (which writes to
TMPDIR), an in-place restore of an SQLite database (which writes beside the live file) and the `.env` restore.
Everything they write lives in a 64 MiB tmpfs of the test's own: without the limit they would end in ENOSPC (or, on
a real disk, fill it); with it, nothing large is written and the real files are untouched.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from backups.models import BackupArtifact, BackupRun, RestoreRun
from backups.services.restore import restore_run_create_and_execute
from backups.services.verify import backup_run_verify
from tests.backups.conftest import sqlite_database_alias

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]
ALIAS = "embedded"
LIMIT_MESSAGE = "decodes to more than the"
MiB = 1 << 20


@pytest.fixture(scope="session")
def zstd_bomb(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("bomb") / "bomb.zst"
    with open(path, "wb") as out:
        zeros = subprocess.Popen(["head", "-c", "3G", "/dev/zero"], stdout=subprocess.PIPE)
        subprocess.run(["zstd", "-3", "-q", "-c"], stdin=zeros.stdout, stdout=out, check=True, timeout=600)
        zeros.stdout.close()
        assert zeros.wait(timeout=60) == 0
    data = path.read_bytes()
    assert len(data) < 200_000  # a real bomb: 3 GiB in about 100 KB
    return data


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


@pytest.fixture
def sqlite_alias(settings, small_disk) -> Iterator[Path]:
    """A second database alias, an SQLite file on the small disk (as the embedded default keeps it under var/)."""
    with sqlite_database_alias(ALIAS, small_disk / "embedded.sqlite3") as path:
        settings.BACKUP_DATABASES = [ALIAS]
        yield path


def swap_in(backup_dir: Path, artifact: BackupArtifact, data: bytes) -> None:
    """Replace the stored artifact with `data` and fix its checksum and size in the catalog and the manifest."""
    (backup_dir / artifact.path).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    BackupArtifact.objects.filter(pk=artifact.pk).update(sha256=digest, stored_bytes=len(data))
    manifest_path = backup_dir / artifact.run.storage_prefix / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["artifacts"]:
        if entry["path"] == artifact.path:
            entry.update(sha256=digest, stored_bytes=len(data))
    manifest_path.write_text(json.dumps(manifest))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def used(disk: Path) -> int:
    return shutil.disk_usage(disk).used


def test_a_bomb_stops_the_drill_before_it_fills_tmpdir(backup_dir, sqlite_alias, small_disk, zstd_bomb,
                                                         run_backup, monkeypatch):
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    artifact = run.artifacts.get()
    swap_in(backup_dir, artifact, zstd_bomb)
    scratch = small_disk / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # the drill's TMPDIR is on the small disk

    result = backup_run_verify(run_id=run.pk, drill=True)

    assert not result.ok
    [problem] = result.problems
    assert problem.startswith(f"database:{ALIAS}: drill failed: ") and LIMIT_MESSAGE in problem, problem
    assert f"{artifact.raw_bytes} bytes" in problem
    assert "No space left" not in problem
    assert list(scratch.iterdir()) == []  # the drill's copy was removed
    result.run.refresh_from_db()
    assert result.run.verification == BackupRun.Verification.FAILED


def test_a_bomb_stops_an_in_place_sqlite_restore_and_the_live_database_is_untouched(
    backup_dir, sqlite_alias, small_disk, zstd_bomb, run_backup
):
    run = run_backup()
    artifact = run.artifacts.get()
    swap_in(backup_dir, artifact, zstd_bomb)
    before = sha256_file(sqlite_alias)

    restore = restore_run_create_and_execute(run_id=run.pk)

    assert restore.status == RestoreRun.Status.FAILED
    assert LIMIT_MESSAGE in restore.error and "No space left" not in restore.error, restore.error
    assert sha256_file(sqlite_alias) == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["embedded.sqlite3"]  # no temporary copy left
    assert used(small_disk) < 4 * MiB
    assert restore.safety_run.status == BackupRun.Status.SUCCEEDED  # taken first, as for any in-place restore


def test_a_bomb_in_the_env_backup_leaves_the_real_env_untouched(settings, backup_dir, small_disk, zstd_bomb,
                                                                run_backup):
    env = small_disk / ".env"
    env.write_text("SECRET_KEY=the-real-one\nDEBUG=false\n")
    env.chmod(0o600)
    settings.BACKUP_DATABASES = []
    settings.BACKUP_FILES = [str(env)]
    run = run_backup()
    artifact = run.artifacts.get()
    assert artifact.raw_bytes == len(env.read_bytes())
    swap_in(backup_dir, artifact, zstd_bomb)

    restore = restore_run_create_and_execute(run_id=run.pk, only=f"file:{env}")

    assert restore.status == RestoreRun.Status.FAILED
    assert LIMIT_MESSAGE in restore.error and "No space left" not in restore.error, restore.error
    assert env.read_text() == "SECRET_KEY=the-real-one\nDEBUG=false\n"
    assert sorted(p.name for p in small_disk.iterdir()) == [".env"]  # no .restoring, nothing moved aside
    assert used(small_disk) < 4 * MiB


def test_an_encrypted_bomb_is_stopped_too(encrypted, backup_dir, zstd_bomb):
    import io

    import pyrage

    from backups.pipeline import DecodedTooLarge, age_recipients, decoded

    sealed = io.BytesIO()
    pyrage.encrypt_io(io.BytesIO(zstd_bomb), sealed, age_recipients())
    sealed.seek(0)
    with pytest.raises(DecodedTooLarge, match="14 bytes"), decoded(sealed, encrypted=True, limit=14) as reader:
        while reader.read(MiB):
            pass
