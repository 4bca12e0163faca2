"""PostgreSQL in a container whose data directory is a named volume (the requirement's `db-data`), from the local
image opsportal/postgres:local that scripts/postgres-image.sh builds from this machine's Debian packages."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import docker.errors
import psycopg
import pytest
from django.conf import settings

from tests.conftest import free_port, wait_for

IMAGE = "opsportal/postgres:local"
NETWORK = "opsportal-test"  # the engine runs without the default bridge: publishing a port needs a network
DATA = "/var/lib/postgresql/data"


@dataclass
class PostgresContainer:
    client: docker.DockerClient
    container: docker.models.containers.Container
    volume: str
    server: str  # postgres://postgres@127.0.0.1:PORT, without a database name


@contextlib.contextmanager
def postgres_container(*, command: list[str] | None = None, labels: dict | None = None,
                       name_prefix: str = "db-data-pg", extra_volumes: list[str] | None = None,
                       ) -> Iterator[PostgresContainer]:
    """`extra_volumes`: paths in the container that get a new named volume each (e.g. the pgBackRest repository)."""
    client = docker.DockerClient(base_url=settings.BACKUP_DOCKER_HOST)
    client.ping()
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"image {IMAGE} is missing: run `bash scripts/docker-engine.sh` (it builds it)")
    try:
        client.networks.get(NETWORK)
    except docker.errors.NotFound:
        with contextlib.suppress(docker.errors.APIError):  # another test may create it at the same moment
            client.networks.create(NETWORK)
    suffix = secrets.token_hex(4)
    volume = client.volumes.create(f"db-data-{suffix}").name
    extras = {client.volumes.create(f"{name_prefix}-extra{index}-{suffix}").name: path
              for index, path in enumerate(extra_volumes or [])}
    port = free_port()
    container = client.containers.run(
        IMAGE, name=f"{name_prefix}-{suffix}", detach=True, network=NETWORK,
        ports={"5432/tcp": ("127.0.0.1", port)},
        volumes={volume: {"bind": DATA, "mode": "rw"}, **{name: {"bind": path, "mode": "rw"}
                                                           for name, path in extras.items()}},
        command=command or [], labels=labels or {},
    )
    server = f"postgres://postgres@127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with psycopg.connect(f"{server}/postgres", connect_timeout=2) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False

    try:
        wait_for(answers, timeout=120, interval=0.5, what="PostgreSQL in the container")
        yield PostgresContainer(client, container, volume, server)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
        for name in [volume, *extras]:
            with contextlib.suppress(docker.errors.NotFound):
                client.volumes.get(name).remove(force=True)
        client.close()
