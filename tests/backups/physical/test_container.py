"""The `db-data` case: PostgreSQL in a container on a named volume, backed up online with pgbackrest inside it
(`docker exec`), from the local image opsportal/postgres:local (Debian's postgresql and pgbackrest packages)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.core.cache import cache

from backups.models import BackupRun, RestoreRun
from backups.physical.backup import physical_backup_create
from backups.physical.health import WalArchiveCheck
from backups.physical.info import stanza_info
from backups.physical.restore import physical_restore_create, physical_restore_execute
from backups.physical.setup import stanza_setup
from backups.services.backup import backup_run_execute
from monitoring.models import Status
from tests.conftest import wait_for
from tests.docker_postgres import postgres_container

pytestmark = pytest.mark.django_db(transaction=True)
STANZA = "dbdata"
ARCHIVE = f"pgbackrest --stanza={STANZA} --pg1-path=/var/lib/postgresql/data archive-push %p"


@pytest.fixture
def db_data_container() -> Iterator[tuple]:
    command = ["-c", "archive_mode=on", "-c", f"archive_command={ARCHIVE}", "-c", "wal_level=replica"]
    with postgres_container(command=command, name_prefix="pitr-pg") as pg:
        yield pg.container, f"{pg.server}/postgres"


def test_postgres_in_a_container_on_its_volume_is_backed_up_online_through_docker_exec(db_data_container, settings):
    container, url = db_data_container
    settings.BACKUP_PGBACKREST_STANZA = STANZA
    settings.BACKUP_PGBACKREST_CONTAINER = container.name
    settings.BACKUP_PGBACKREST_USER = "postgres"
    settings.BACKUP_PGBACKREST_DATABASE = url
    settings.BACKUP_PGBACKREST_PG_PATH = "/var/lib/postgresql/data"
    settings.BACKUP_PGBACKREST_CONFIG = ""
    settings.BACKUP_PGBACKREST_REPO_PATH = ""
    settings.BACKUP_PGBACKREST_CIPHER_PASS_FILE = ""
    cache.clear()  # no `pgbackrest check` outcome of an earlier test's cluster
    container.reload()
    started = container.attrs["State"]["StartedAt"]
    stanza_setup()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 1000) g")
        writer = psycopg.connect(url, autocommit=True)  # a client keeps working while the backup runs

    run = backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli").pk)

    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    assert stanza_info().by_run_uuid(str(run.uuid)) is not None
    container.reload()
    assert container.status == "running" and container.attrs["State"]["StartedAt"] == started  # never stopped
    assert writer.execute("SELECT count(*) FROM orders").fetchone() == (1000,)
    writer.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_switch_wal()")
    wait_for(lambda: WalArchiveCheck().run().status == Status.OK, timeout=60, what="the archive to be ok")
    restore = physical_restore_create(target_type="latest")
    refused = physical_restore_execute(restore_id=restore.pk)
    # Here the repository is in the container's own file system: no new container could read it, so a restore
    # is refused, saying why, before anything is created.
    assert refused.status == RestoreRun.Status.REFUSED and "own file system" in refused.error, refused.error
