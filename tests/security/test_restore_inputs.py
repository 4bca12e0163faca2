"""Restore inputs come from storage and may be crafted: nothing may make a restore read or write outside its place."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import secrets
import tarfile
from collections.abc import Iterator

import docker
import pytest
import zstandard
from django.conf import settings as django_settings

from backups import manifest
from backups.models import BackupArtifact, BackupRun, RestoreRun
from backups.services.catalog import backup_catalog_reindex
from backups.services.restore import restore_run_create_and_execute
from backups.sources.base import RestoreTarget, SourceError
from backups.sources.docker_volumes import DockerVolumeSource
from backups.sources.tar_safety import checked_tar_stream
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


def _dir(name: str, mode: int = 0o755) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    return info, b""


def _volume_run(raw: bytes, volume: str = "appdata") -> BackupRun:
    """A succeeded run holding one docker-volume artifact with these tar bytes, checksums and all correct."""
    stored = zstandard.ZstdCompressor().compress(raw)
    run = BackupRun.objects.create(status=BackupRun.Status.SUCCEEDED, storage_prefix="20260101T000000Z-crafted")
    path = f"{run.storage_prefix}/01-docker-volume-{volume}.tar.zst"
    write_small_file(backup_storage(), path, stored)
    BackupArtifact.objects.create(
        run=run, kind="docker-volume", name=volume, path=path, stored_bytes=len(stored),
        raw_bytes=len(raw), sha256=hashlib.sha256(stored).hexdigest(), format="tar",
    )
    return run


@pytest.mark.parametrize(
    "members, said",
    [
        ([_file("./ok.txt"), _file("../escaped.txt")], "outside the target"),
        ([_file("/etc/cron.d/evil")], "outside the target"),
        ([_file("./a/../../up.txt")], "outside the target"),
        ([_link("./s", "sub/deep"), _file("./s/../x.txt")], "has a .. in its path"),
        ([_link("./etc", "/etc"), _file("./etc/passwd")], "symbolic link"),
        ([_link("./up", "../../..")], "symbolic link"),
        ([_link("./hard", "../../etc/shadow", tarfile.LNKTYPE)], "hard link"),
        ([_link("./dev", "", tarfile.CHRTYPE)], "device file"),
        ([_link("./fifo", "", tarfile.FIFOTYPE)], "named pipe"),
        # Each link is harmless on its own; resolved against the tree they build, a/b is the volume's parent.
        ([_link("./a", "."), _link("./a/b", ".."), _file("./a/b/escaped.txt")], "symbolic link"),
        # l -> d/.. is the root while d is missing; once d -> . exists, l is the parent and the hard link goes out.
        ([_link("./l", "d/.."), _link("./d", "."), _link("./hard", "l/etc/passwd", tarfile.LNKTYPE)], "hard link"),
        # The same two links with nothing through them: l is left pointing outside the volume for its users.
        ([_link("./l", "d/.."), _link("./d", ".")], "symbolic link"),
        ([_link("./hard", "/etc/shadow", tarfile.LNKTYPE)], "hard link"),
        # Past PATH_MAX, os.path.realpath stops following links and goes on lexically (CVE-2025-4517): refused.
        ([_dir("./" + "/".join(["d" * 250] * 13)), _link("./s", "/".join(["d" * 250] * 13))], "too long to check"),
    ],
    ids=[
        "dotdot", "absolute", "dotdot-inside", "dotdot-after-link", "symlink-absolute", "symlink-up", "hardlink-up",
        "device", "fifo", "symlink-chain", "hardlink-through-symlinked-dir", "symlink-broken-later",
        "hardlink-absolute", "past-path-max",
    ],
)
def test_a_crafted_volume_archive_is_refused_before_anything_is_touched(backup_dir, settings, members, said):
    # No Docker engine is needed: the archive is refused before the engine is even asked.
    settings.BACKUP_DOCKER_HOST = "unix:///nonexistent/docker.sock"
    run = _volume_run(_tar(*members))
    restore = restore_run_create_and_execute(run_id=run.pk, only="docker-volume:appdata", actor="test")
    assert restore.status == RestoreRun.Status.REFUSED, restore.error
    assert "crafted archive" in restore.error and said in restore.error
    assert restore.safety_run is None


@pytest.mark.parametrize(
    "members",
    [
        [_file("./data/a.txt"), _link("./data/latest", "a.txt")],
        # Relative links that stay inside the tree, through other links, are what real volumes hold.
        [_file("./b/x.txt"), _link("./a", "b"), _link("./a2", "a"), _file("./a/y.txt"), _link("./b/up", "..")],
        [_file("./b/x.txt"), _link("./a", "b"), _link("./hard", "a/x.txt", tarfile.LNKTYPE)],
    ],
    ids=["symlink", "symlinks-through-symlinks", "hardlink-through-symlink"],
)
def test_a_harmless_volume_archive_passes_the_archive_check(backup_dir, settings, members):
    settings.BACKUP_DOCKER_HOST = "unix:///nonexistent/docker.sock"
    run = _volume_run(_tar(*members))
    restore = restore_run_create_and_execute(run_id=run.pk, only="docker-volume:appdata", actor="test")
    # Past the archive check, the next refusal is the missing engine: the archive itself was accepted.
    assert restore.status == RestoreRun.Status.REFUSED
    assert "does not answer" in restore.error


def _with_mode(member: tuple[tarfile.TarInfo, bytes], mode: int) -> tuple[tarfile.TarInfo, bytes]:
    member[0].mode = mode
    return member


@pytest.fixture
def fresh_volume() -> Iterator[tuple[docker.DockerClient, str]]:
    """The name of a volume that does not exist yet (the restore creates it), removed afterwards."""
    client = docker.DockerClient(base_url=django_settings.BACKUP_DOCKER_HOST)
    client.ping()  # no engine: the test fails here, loudly
    name = f"backups-test-{secrets.token_hex(4)}"
    yield client, name
    for container in client.containers.list(all=True, filters={"volume": name}):
        container.remove(force=True)
    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(name).remove(force=True)
    client.close()


def test_a_volume_restore_strips_setuid_setgid_and_sticky_bits_and_keeps_inner_links(backup_dir, fresh_volume):
    client, volume = fresh_volume
    raw = _tar(
        _dir("./bin"),
        _with_mode(_file("./bin/su", b"#!/bin/sh\necho root\n"), 0o4755),
        _with_mode(_file("./bin/wall", b"#!/bin/sh\n"), 0o2711),
        _dir("./shared", 0o2775),
        _dir("./scratch", 0o1777),
        _dir("./b"),
        _with_mode(_file("./b/x.txt", b"inside\n"), 0o640),
        _link("./a", "b"),
        _link("./b/up", ".."),
    )
    restore = restore_run_create_and_execute(run_id=_volume_run(raw, volume).pk, only=f"docker-volume:{volume}",
                                             actor="test")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    listing = client.containers.run(
        django_settings.BACKUP_DOCKER_IMAGE,
        ["sh", "-c", "cd /data && stat -c '%a %n' bin/su bin/wall shared scratch b/x.txt && cat a/x.txt b/up/a/x.txt"],
        volumes={volume: {"bind": "/data", "mode": "ro"}},
        network_mode="none",
        remove=True,
    ).decode()
    # Permission bits are kept; only the bits that change who a program runs as (or who may delete) are gone.
    assert listing.splitlines() == ["755 bin/su", "711 bin/wall", "775 shared", "777 scratch", "640 b/x.txt",
                                    "inside", "inside"]
    assert "setuid" in restore.log


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
    restore = restore_run_create_and_execute(run_id=crafted.pk, actor="test")
    assert restore.status == RestoreRun.Status.REFUSED
    assert "outside the folder" in restore.error


def test_a_manifest_naming_a_file_outside_backup_files_is_refused(backup_dir, settings, tmp_path, run_backup):
    run, env = _file_backup(run_backup, settings, tmp_path)
    victim = tmp_path / "victim.conf"
    victim.write_text("keep me\n")
    crafted = _craft_manifest(run, name=str(victim))
    restore = restore_run_create_and_execute(run_id=crafted.pk, actor="test")
    assert restore.status == RestoreRun.Status.REFUSED
    assert "not one of BACKUP_FILES" in restore.error
    assert victim.read_text() == "keep me\n"
    # The honest manifest still restores the configured file.
    honest = _craft_manifest(crafted, name=env)
    assert restore_run_create_and_execute(run_id=honest.pk, actor="test").status == RestoreRun.Status.SUCCEEDED


def test_an_archive_swapped_after_the_check_is_stopped_at_the_crafted_member(backup_dir, fresh_volume):
    # Storage can change between the check and the restore reading it again: the stream is checked a second time.
    client, volume = fresh_volume
    artifact = _volume_run(_tar(_file("./ok.txt")), volume).artifacts.get()
    swapped = _tar(_file("./ok.txt"), _link("./a", "."), _link("./a/b", ".."), _file("./a/b/escaped.txt"))
    with pytest.raises(SourceError, match="crafted archive: symbolic link ./a/b"):
        DockerVolumeSource.restore(artifact, io.BytesIO(swapped), RestoreTarget(log=lambda line: None))
    helpers = client.containers.list(all=True, filters={"label": f"opsportal.backup.volume={volume}"})
    assert helpers == []  # the helper that received the stream is gone too
    listing = client.containers.run(
        django_settings.BACKUP_DOCKER_IMAGE,
        ["sh", "-c", "find /data"],
        volumes={volume: {"bind": "/data", "mode": "ro"}},
        network_mode="none",
        remove=True,
    ).decode()
    # What came before the crafted member may be there; nothing from it or after it is.
    assert "escaped" not in listing and "/data/a/b" not in listing


def test_file_capabilities_are_dropped_from_the_stream_sent_to_docker():
    # Docker applies SCHILY.xattr.* records as extended attributes: security.capability is setuid by other means.
    ping, _data = _file("./bin/ping", b"#!/bin/sh\n")
    ping.size = len(_data)
    ping.pax_headers = {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02", "SCHILY.xattr.user.note": "kept"}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(ping, io.BytesIO(_data))
    stripped: list[str] = []
    sent = b"".join(checked_tar_stream(io.BytesIO(buffer.getvalue()), stripped))
    with tarfile.open(fileobj=io.BytesIO(sent)) as archive:
        (member,) = archive.getmembers()
        assert archive.extractfile(member).read() == b"#!/bin/sh\n"
    assert "SCHILY.xattr.security.capability" not in member.pax_headers
    assert member.pax_headers["SCHILY.xattr.user.note"] == "kept"
    assert stripped == ["./bin/ping"]
