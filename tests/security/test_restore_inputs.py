"""Restore inputs come from storage and may be crafted: nothing may make a restore read or write outside its place."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest
import zstandard

from backups import manifest
from backups.models import BackupArtifact, BackupRun, RestoreRun
from backups.services.catalog import backup_catalog_reindex
from backups.services.restore import restore_run_execute
from backups.storage import backup_storage, write_small_file

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.security]


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, b""


def _volume_run(raw: bytes) -> BackupRun:
    """A succeeded run holding one docker-volume artifact with these tar bytes, checksums and all correct."""
    stored = zstandard.ZstdCompressor().compress(raw)
    run = BackupRun.objects.create(status=BackupRun.Status.SUCCEEDED, storage_prefix="20260101T000000Z-crafted")
    path = f"{run.storage_prefix}/01-docker-volume-appdata.tar.zst"
    write_small_file(backup_storage(), path, stored)
    BackupArtifact.objects.create(
        run=run, kind="docker-volume", name="appdata", path=path, stored_bytes=len(stored),
        raw_bytes=len(raw), sha256=hashlib.sha256(stored).hexdigest(), format="tar",
    )
    return run


@pytest.mark.parametrize(
    "members, said",
    [
        ([_file("./ok.txt"), _file("../escaped.txt")], "outside the target"),
        ([_file("/etc/cron.d/evil")], "outside the target"),
        ([_file("./a/../../up.txt")], "outside the target"),
        ([_link("./etc", "/etc"), _file("./etc/passwd")], "symbolic link"),
        ([_link("./up", "../../..")], "symbolic link"),
        ([_link("./hard", "../../etc/shadow", tarfile.LNKTYPE)], "hard link"),
        ([_link("./dev", "", tarfile.CHRTYPE)], "device file"),
    ],
    ids=["dotdot", "absolute", "dotdot-inside", "symlink-absolute", "symlink-up", "hardlink-up", "device"],
)
def test_a_crafted_volume_archive_is_refused_before_anything_is_touched(backup_dir, settings, members, said):
    # No Docker engine is needed: the archive is refused before the engine is even asked.
    settings.BACKUP_DOCKER_HOST = "unix:///nonexistent/docker.sock"
    run = _volume_run(_tar(*members))
    restore = restore_run_execute(run_id=run.pk, only="docker-volume:appdata", actor="test")
    assert restore.status == RestoreRun.Status.REFUSED, restore.error
    assert "crafted archive" in restore.error and said in restore.error
    assert restore.safety_run is None


def test_a_harmless_volume_archive_passes_the_archive_check(backup_dir, settings):
    settings.BACKUP_DOCKER_HOST = "unix:///nonexistent/docker.sock"
    run = _volume_run(_tar(_file("./data/a.txt"), _link("./data/latest", "a.txt")))
    restore = restore_run_execute(run_id=run.pk, only="docker-volume:appdata", actor="test")
    # Past the archive check, the next refusal is the missing engine: the archive itself was accepted.
    assert restore.status == RestoreRun.Status.REFUSED
    assert "does not answer" in restore.error


def _file_backup(run_backup, settings, tmp_path) -> tuple[BackupRun, str]:
    env = tmp_path / "app.env"
    env.write_text("SECRET=1\n")
    settings.BACKUP_DATABASES = []
    settings.BACKUP_FILES = [str(env)]
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    return run, str(env.resolve())


def _craft_manifest(run: BackupRun, **changes) -> BackupRun:
    """Rewrite the run's manifest in storage as an attacker with write access to storage would, and re-index."""
    storage = backup_storage()
    data = manifest.read(storage, run.storage_prefix)
    data["artifacts"][0].update(changes)
    storage.delete(manifest.manifest_path(run.storage_prefix))
    write_small_file(storage, manifest.manifest_path(run.storage_prefix), json.dumps(data).encode())
    BackupRun.objects.all().delete()
    (reindexed,) = backup_catalog_reindex().runs
    return reindexed


@pytest.mark.parametrize(
    "path", ["../../../../etc/passwd", "/etc/passwd", "{prefix}/../other/x.file.zst", "other-run/x.file.zst"]
)
def test_a_manifest_path_outside_the_run_folder_is_refused(backup_dir, settings, tmp_path, run_backup, path):
    run, _ = _file_backup(run_backup, settings, tmp_path)
    crafted_path = path.format(prefix=run.storage_prefix)
    artifact = run.artifacts.get()
    with pytest.raises(ValueError):  # re-indexing skips such a manifest, so the crafted run never enters the catalog
        _craft_manifest(run, path=crafted_path)
    (skipped,) = backup_catalog_reindex().skipped
    assert skipped.folder == run.storage_prefix and "outside the folder" in skipped.reason
    # A catalog row altered in the database is refused by the restore itself.
    crafted = BackupRun.objects.create(status=BackupRun.Status.SUCCEEDED, storage_prefix=run.storage_prefix)
    artifact.pk, artifact.run, artifact.path = None, crafted, crafted_path
    artifact.save()
    restore = restore_run_execute(run_id=crafted.pk, actor="test")
    assert restore.status == RestoreRun.Status.REFUSED
    assert "outside the folder" in restore.error


def test_a_manifest_naming_a_file_outside_backup_files_is_refused(backup_dir, settings, tmp_path, run_backup):
    run, env = _file_backup(run_backup, settings, tmp_path)
    victim = tmp_path / "victim.conf"
    victim.write_text("keep me\n")
    crafted = _craft_manifest(run, name=str(victim))
    restore = restore_run_execute(run_id=crafted.pk, actor="test")
    assert restore.status == RestoreRun.Status.REFUSED
    assert "not one of BACKUP_FILES" in restore.error
    assert victim.read_text() == "keep me\n"
    # The honest manifest still restores the configured file.
    honest = _craft_manifest(crafted, name=env)
    assert restore_run_execute(run_id=honest.pk, actor="test").status == RestoreRun.Status.SUCCEEDED
