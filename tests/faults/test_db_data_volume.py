"""The requirement's `db-data` case: the labelled container on a backed-up volume is the PostgreSQL the portal itself
is connected to (a real container from opsportal/postgres:local, its data on the volume, the portal's catalog in it).
The volume backup refuses before anything is stopped, naming the physical backup; the server and the portal's
connection never notice."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator

import docker
import docker.errors
import psycopg
import pytest
from django.conf import settings as django_settings

from tests.conftest import ROOT, test_database_env
from tests.docker_postgres import postgres_container

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def portal_on_a_container() -> Iterator[tuple[docker.models.containers.Container, str, str]]:
    # labelled as an operator would label every container of a backed-up volume
    with postgres_container(labels={"opsportal.backup.stop": "true"}) as pg:
        with psycopg.connect(f"{pg.server}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE portal")
        yield pg.container, pg.volume, f"{pg.server}/portal"


def _portal(url: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = test_database_env(TEST_DATABASE_URL=url, BACKUP_DIR=str(tmp_path / "backups"), VAR_DIR=str(tmp_path / "var"),
                            BACKUP_FILES="", BACKUP_DOCKER_VOLUMES=args[-1] if args[0] == "backup" else "")
    return subprocess.run([sys.executable, "manage.py", *(a for a in args if not a.startswith("db-data-"))],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_volume_backup_refuses_to_stop_the_postgres_the_portal_is_connected_to(portal_on_a_container, tmp_path):
    container, volume, url = portal_on_a_container
    migrated = _portal(url, tmp_path, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    container.reload()
    started = container.attrs["State"]["StartedAt"]
    with psycopg.connect(url, autocommit=True) as client:  # a client of the portal's database, kept open
        result = _portal(url, tmp_path, "backup", volume)

        assert result.returncode == 1
        assert f"Container {container.name} runs the PostgreSQL server of database default" in result.stderr
        assert "physical backup" in result.stderr and "BACKUP_PGBACKREST_CONTAINER" in result.stderr
        container.reload()
        assert container.status == "running" and container.attrs["State"]["StartedAt"] == started  # never stopped
        assert client.execute("SELECT 1").fetchone() == (1,)  # the connection never noticed
        status, error = client.execute("SELECT status, error FROM backups_backuprun ORDER BY id DESC").fetchone()
    assert status == "failed" and "runs the PostgreSQL server of database default" in error
    assert not list((tmp_path / "backups").rglob("*.partial"))


def test_a_container_labelled_as_a_database_is_refused_without_asking_the_server(settings, backup_dir, run_backup):
    client = docker.DockerClient(base_url=django_settings.BACKUP_DOCKER_HOST)
    volume = client.volumes.create(f"db-role-{secrets.token_hex(4)}").name
    app = client.containers.run(
        django_settings.BACKUP_DOCKER_IMAGE, ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
        volumes={volume: {"bind": "/data", "mode": "rw"}}, network_mode="none", detach=True,
        labels={"opsportal.backup.stop": "true", "opsportal.backup.role": "database"},
    )
    try:
        settings.BACKUP_DOCKER_VOLUMES = [volume]
        run = run_backup(only=[f"docker-volume:{volume}"])
        assert run.status == "failed"
        assert "labelled opsportal.backup.role=database" in run.error
        app.reload()
        assert app.status == "running"
    finally:
        app.remove(force=True)
        client.volumes.get(volume).remove(force=True)
        client.close()
