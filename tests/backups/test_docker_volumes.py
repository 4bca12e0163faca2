"""A real Docker volume: backed up and restored; a labelled container using it is stopped and started again."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import docker
import pytest
from django.conf import settings as django_settings

from backups.models import BackupRun, RestoreRun
from backups.services.restore import restore_run_create_and_execute

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client() -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=django_settings.BACKUP_DOCKER_HOST)
    client.ping()  # no engine: the test fails here, loudly
    yield client
    client.close()


@pytest.fixture
def volume_with_app(client) -> Iterator[tuple[str, docker.models.containers.Container]]:
    suffix = secrets.token_hex(4)
    volume = client.volumes.create(f"backups-test-{suffix}")
    image = django_settings.BACKUP_DOCKER_IMAGE
    client.containers.run(
        image,
        ["sh", "-c", "mkdir -p /data/sub && echo hello > /data/a.txt && echo deep > /data/sub/b.txt"],
        volumes={volume.name: {"bind": "/data", "mode": "rw"}},
        network_mode="none",
        remove=True,
    )
    app = client.containers.run(
        image,
        # Exits on SIGTERM like a real service, so stopping it is quick.
        ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
        name=f"backups-app-{suffix}",
        volumes={volume.name: {"bind": "/data", "mode": "rw"}},
        labels={"opsportal.backup.stop": "true"},
        network_mode="none",
        detach=True,
    )
    yield volume.name, app
    with contextlib.suppress(docker.errors.NotFound):
        app.remove(force=True)
    for container in client.containers.list(all=True, filters={"volume": volume.name}):
        container.remove(force=True)
    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(volume.name).remove(force=True)


def _read(client, volume: str, command: str) -> str:
    output = client.containers.run(
        django_settings.BACKUP_DOCKER_IMAGE,
        ["sh", "-c", command],
        volumes={volume: {"bind": "/data", "mode": "ro"}},
        network_mode="none",
        remove=True,
    )
    return output.decode()


def test_volume_backup_and_restore_stop_and_restart_the_labelled_container(
    backup_dir, settings, client, volume_with_app, run_backup
):
    volume, app = volume_with_app
    settings.BACKUP_DOCKER_VOLUMES = [volume]
    started_before = app.attrs["State"]["StartedAt"]

    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    artifact = run.artifacts.get(kind="docker-volume")
    assert artifact.metadata["stopped_containers"] == [app.name]
    app.reload()
    assert app.status == "running" and app.attrs["State"]["StartedAt"] != started_before
    # no helper container of this volume is left (other test runs may share the engine, so filter by volume)
    assert not client.containers.list(
        all=True, filters={"label": ["opsportal.backup.helper=true", f"opsportal.backup.volume={volume}"]}
    )

    client.containers.run(
        django_settings.BACKUP_DOCKER_IMAGE,
        ["sh", "-c", "echo changed > /data/a.txt && rm /data/sub/b.txt && echo new > /data/new.txt"],
        volumes={volume: {"bind": "/data", "mode": "rw"}},
        network_mode="none",
        remove=True,
    )
    restore = restore_run_create_and_execute(run_id=run.pk, only=f"docker-volume:{volume}")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert restore.safety_run.status == BackupRun.Status.SUCCEEDED

    assert _read(client, volume, "cat /data/a.txt /data/sub/b.txt; ls /data") == "hello\ndeep\na.txt\nsub\n"
    app.reload()
    assert app.status == "running"
    assert f"started container {app.name} again" in restore.log


def test_a_missing_volume_fails_the_run_naming_it(backup_dir, settings, run_backup):
    settings.BACKUP_DOCKER_VOLUMES = [f"backups-missing-{secrets.token_hex(4)}"]
    run = run_backup()
    assert run.status == BackupRun.Status.FAILED
    assert settings.BACKUP_DOCKER_VOLUMES[0] in run.error and "does not exist" in run.error


def test_a_removed_volume_is_created_again_by_restore(backup_dir, settings, client, run_backup):
    name = f"backups-test-{secrets.token_hex(4)}"
    client.volumes.create(name)
    try:
        client.containers.run(
            django_settings.BACKUP_DOCKER_IMAGE,
            ["sh", "-c", "echo kept > /data/file.txt"],
            volumes={name: {"bind": "/data", "mode": "rw"}},
            network_mode="none",
            remove=True,
        )
        settings.BACKUP_DOCKER_VOLUMES = [name]
        settings.BACKUP_DATABASES = []
        run = run_backup()
        assert run.status == BackupRun.Status.SUCCEEDED, run.error
        client.volumes.get(name).remove()

        restore = restore_run_create_and_execute(run_id=run.pk)
        assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
        assert restore.safety_run is None  # nothing existed to protect
        assert _read(client, name, "cat /data/file.txt") == "kept\n"
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            client.volumes.get(name).remove(force=True)


def test_a_volume_backup_is_estimated_from_the_engine_and_the_estimate_is_near_the_archive(
    backup_dir, settings, client, run_backup
):
    volume = client.volumes.create(f"backups-test-{secrets.token_hex(4)}")
    try:
        client.containers.run(  # 3 MB of real files
            django_settings.BACKUP_DOCKER_IMAGE,
            ["sh", "-c", "for i in 1 2 3; do head -c 1048576 /dev/urandom > /data/f$i; done"],
            volumes={volume.name: {"bind": "/data", "mode": "rw"}}, network_mode="none", remove=True,
        )
        settings.BACKUP_DATABASES = []
        settings.BACKUP_DOCKER_VOLUMES = [volume.name]
        run = run_backup()
        assert run.status == BackupRun.Status.SUCCEEDED, run.error
        # the engine's df: the files' size; the tar read adds its headers, so bytes done end a little above it
        assert 3 * 1024 * 1024 <= run.estimated_bytes <= run.bytes_done < run.estimated_bytes * 1.1
    finally:
        for container in client.containers.list(all=True, filters={"volume": volume.name}):
            container.remove(force=True)
        volume.remove(force=True)
