"""A backup SIGKILLed while a labelled container is stopped for its volume archive: the real `manage.py backup`, the
real Docker engine. The container must not stay down: the reaper tick, or a worker starting on this host, starts it,
puts its own restart policy back and removes the helper container the dead process left."""

from __future__ import annotations

import contextlib
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator

import docker
import docker.errors
import pytest
from django.conf import settings as django_settings

from backups.models import BackupRun
from backups.sources.docker_volumes import HELPER_LABEL, VOLUME_LABEL
from backups.tasks import reap_stale_runs
from tests.conftest import ROOT, test_database_env, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def app_on_a_volume(settings) -> Iterator[tuple[docker.DockerClient, str, docker.models.containers.Container]]:
    client = docker.DockerClient(base_url=django_settings.BACKUP_DOCKER_HOST)
    client.ping()
    image = django_settings.BACKUP_DOCKER_IMAGE
    volume = client.volumes.create(f"left-down-{secrets.token_hex(4)}").name
    # about 300 MB that does not compress: the archive takes long enough to be caught mid-way
    client.containers.run(image, ["sh", "-c", "dd if=/dev/urandom of=/data/blob bs=1M count=300 2>/dev/null"],
                          volumes={volume: {"bind": "/data", "mode": "rw"}}, network_mode="none", remove=True)
    app = client.containers.run(
        image, ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"], name=f"left-down-app-{volume[-8:]}",
        volumes={volume: {"bind": "/data", "mode": "rw"}}, labels={"opsportal.backup.stop": "true"},
        network_mode="none", detach=True, restart_policy={"Name": "no"},
    )
    try:
        yield client, volume, app
    finally:
        for container in client.containers.list(all=True, filters={"volume": volume}):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            client.volumes.get(volume).remove(force=True)
        client.close()


def _state(app) -> tuple[str, str]:
    app.reload()
    return app.status, (app.attrs["HostConfig"].get("RestartPolicy") or {}).get("Name") or "no"


def _helpers(client, volume: str) -> list:
    return client.containers.list(all=True, filters={"label": [f"{HELPER_LABEL}=true", f"{VOLUME_LABEL}={volume}"]})


def _kill_mid_archive(client, volume: str, app, backup_dir) -> BackupRun:
    env = test_database_env(BACKUP_DIR=str(backup_dir), VAR_DIR=str(django_settings.VAR_DIR), BACKUP_FILES="",
                            BACKUP_DOCKER_VOLUMES=volume, BACKUP_PROGRESS_EVERY="200ms")
    process = subprocess.Popen([sys.executable, "manage.py", "backup"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _state(app)[0] == "exited" and bool(_helpers(client, volume)), timeout=120, interval=0.05,
                 what="the app container to be stopped for the archive")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert _state(app) == ("exited", "always")  # what the kill leaves: down, and a policy that is not its own
    assert _helpers(client, volume)
    return BackupRun.objects.get()


def test_the_reaper_tick_starts_the_container_puts_its_policy_back_and_removes_the_helper(
    app_on_a_volume, backup_dir
):
    client, volume, app = app_on_a_volume
    run = _kill_mid_archive(client, volume, app, backup_dir)

    reap_stale_runs()

    assert _state(app) == ("running", "no")
    assert _helpers(client, volume) == []
    run.refresh_from_db()
    assert run.status == BackupRun.Status.FAILED and "worker lost" in run.error
    assert not list((django_settings.VAR_DIR / "docker-holds").glob("*.json"))
    reap_stale_runs()  # a second tick finds nothing more to do
    assert _state(app) == ("running", "no")


def test_a_worker_starting_on_this_host_puts_the_container_back(app_on_a_volume, backup_dir, celery_worker_process):
    client, volume, app = app_on_a_volume
    _kill_mid_archive(client, volume, app, backup_dir)

    worker = celery_worker_process(extra_env={"VAR_DIR": str(django_settings.VAR_DIR)})

    wait_for(lambda: _state(app) == ("running", "no"), timeout=60, what="the starting worker to put the app back")
    wait_for(lambda: _helpers(client, volume) == [], timeout=30, what="the helper to be removed")
    assert worker.poll() is None
