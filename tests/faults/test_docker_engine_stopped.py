"""The Docker engine stops in the middle of a volume archive: our OWN dockerd (own socket, data-root and exec-root
under /tmp), never the shared one. The run fails naming Docker, no partial file stays, and the labelled container
that was stopped for the archive runs again once the engine is back."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from django.db import connection

from backups.models import BackupRun
from backups.services.backup import backup_run_create, backup_run_execute
from tests.backups.conftest import files_under
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]
IMAGE = "opsportal/busybox:local"

class OwnDockerd:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="rel-docker-"))
        self.socket = self.folder / "docker.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
             "--data-root", str(self.folder / "data"), "--exec-root", str(self.folder / "exec"),
             "--pidfile", str(self.folder / "docker.pid"), "-H", self.url],
            stdout=open(self.folder / "log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )
        wait_for(self.answers, timeout=60, what="our dockerd to answer")

    def answers(self) -> bool:
        try:
            client = docker.DockerClient(base_url=self.url, timeout=5)
        except docker.errors.DockerException:
            return False
        try:
            return bool(client.ping())
        except docker.errors.DockerException:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # the way `systemctl stop docker` does
            self.process.wait(timeout=60)

    def import_busybox(self) -> None:
        root = self.folder / "image"
        (root / "bin").mkdir(parents=True)
        shutil.copy(shutil.which("busybox"), root / "bin" / "busybox")
        applets = subprocess.run([root / "bin" / "busybox", "--list"], capture_output=True, text=True).stdout.split()
        for applet in applets:
            if not (root / "bin" / applet).exists():
                (root / "bin" / applet).symlink_to("busybox")
        archive = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True).stdout
        client = docker.DockerClient(base_url=self.url, timeout=120)
        try:
            client.api.import_image_from_data(archive, repository=IMAGE.split(":")[0], tag=IMAGE.split(":")[1])
        finally:
            client.close()

@pytest.fixture(scope="module")
def own_dockerd() -> Iterator[OwnDockerd]:
    engine = OwnDockerd()
    try:
        engine.start()
        engine.import_busybox()
        yield engine
    finally:
        engine.stop()
        shutil.rmtree(engine.folder, ignore_errors=True)

def test_engine_stopped_mid_archive_fails_the_run_and_the_container_runs_again(own_dockerd, backup_dir, settings):
    suffix = secrets.token_hex(4)
    client = docker.DockerClient(base_url=own_dockerd.url, timeout=120)
    volume = client.volumes.create(f"rel-vol-{suffix}").name
    # Enough incompressible data that the archive is still streaming when the engine goes.
    client.containers.run(IMAGE, ["sh", "-c", "head -c 400000000 /dev/urandom > /data/big"],
                          volumes={volume: {"bind": "/data", "mode": "rw"}}, network_mode="none", remove=True)
    app = client.containers.run(IMAGE, ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
                                name=f"rel-app-{suffix}", volumes={volume: {"bind": "/data", "mode": "rw"}},
                                labels={"opsportal.backup.stop": "true"}, network_mode="none", detach=True)
    client.close()
    settings.BACKUP_DOCKER_HOST = own_dockerd.url
    settings.BACKUP_DOCKER_IMAGE = IMAGE
    settings.BACKUP_DATABASES = []
    settings.BACKUP_DOCKER_VOLUMES = [volume]

    run = backup_run_create(trigger=BackupRun.Trigger.CLI)
    finished: list[BackupRun] = []

    def back_up() -> None:
        try:
            finished.append(backup_run_execute(run_id=run.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=back_up)
    worker.start()

    def streaming() -> bool:
        return any(p.stat().st_size > 0 for p in backup_dir.rglob("*.partial"))

    wait_for(streaming, timeout=120, interval=0.01, what="the volume archive to be streaming")
    own_dockerd.stop()
    worker.join(timeout=180)

    (result,) = finished
    assert result.status == BackupRun.Status.FAILED
    assert f"docker-volume:{volume}" in result.error, result.error
    assert f"The Docker engine at {own_dockerd.url} stopped answering" in result.error, result.error
    assert files_under(backup_dir) == []

    own_dockerd.start()
    client = docker.DockerClient(base_url=own_dockerd.url, timeout=120)
    try:
        wait_for(lambda: client.containers.get(app.id).status == "running", timeout=60,
                 what="the labelled container to run again once the engine is back")
    finally:
        for container in client.containers.list(all=True, filters={"volume": volume}):
            container.remove(force=True)
        client.volumes.get(volume).remove(force=True)
        client.close()

def test_labelled_containers_keep_their_restart_policy_after_a_normal_backup(own_dockerd, backup_dir, settings,
                                                                             run_backup):
    suffix = secrets.token_hex(4)
    client = docker.DockerClient(base_url=own_dockerd.url, timeout=120)
    volume = client.volumes.create(f"rel-vol-{suffix}").name
    app = client.containers.run(IMAGE, ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
                                name=f"rel-app-{suffix}", volumes={volume: {"bind": "/data", "mode": "rw"}},
                                labels={"opsportal.backup.stop": "true"}, network_mode="none", detach=True,
                                restart_policy={"Name": "on-failure", "MaximumRetryCount": 3})
    settings.BACKUP_DOCKER_HOST = own_dockerd.url
    settings.BACKUP_DOCKER_IMAGE = IMAGE
    settings.BACKUP_DATABASES = []
    settings.BACKUP_DOCKER_VOLUMES = [volume]
    try:
        assert run_backup().status == BackupRun.Status.SUCCEEDED
        app.reload()
        assert app.status == "running"
        assert app.attrs["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    finally:
        app.remove(force=True)
        client.volumes.get(volume).remove(force=True)
        client.close()

os.environ.setdefault("DOCKER_HOST_SHARED_UNTOUCHED", "1")  # documentation only: nothing here uses DOCKER_HOST
