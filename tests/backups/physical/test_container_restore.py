"""Point-in-time restores and drills of PostgreSQL in a container (the `db-data` case): into a NEW volume and a NEW
container from the same image on a new port, the running container untouched; real engine, real image
(opsportal/postgres:local), the pgBackRest repository on its own volume."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator

import docker
import docker.errors
import psycopg
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connections
from django.urls import reverse

from backups.models import BackupRun, RestoreRun
from backups.physical.backup import physical_backup_create
from backups.physical.container import (
    LABEL_OWNER,
    LABEL_PURPOSE,
    LABEL_RESTORE,
    restored_containers_reap,
    restored_environment,
)
from backups.physical.restore import physical_restore_create, physical_restore_execute
from backups.physical.setup import stanza_setup
from backups.physical.tasks import pitr_drill
from backups.services.backup import backup_run_execute
from backups.services.restore import restore_run_execute
from tests.conftest import wait_for
from tests.docker_postgres import postgres_container

pytestmark = pytest.mark.django_db(transaction=True)
STANZA = "dbdatapitr"
DATA = "/var/lib/postgresql/data"
REPO = "/var/lib/pgbackrest"
ARCHIVE = f"pgbackrest --stanza={STANZA} --pg1-path={DATA} archive-push %p"


@pytest.fixture
def db_data(settings) -> Iterator[tuple]:
    """PostgreSQL in a container on its volume, archiving into a repository on a second volume; portal configured."""
    command = ["-c", "archive_mode=on", "-c", f"archive_command={ARCHIVE}", "-c", "wal_level=replica"]
    with postgres_container(command=command, name_prefix="pitrbox-pg", extra_volumes=[REPO]) as pg:
        url = f"{pg.server}/postgres"
        settings.BACKUP_PGBACKREST_STANZA = STANZA
        settings.BACKUP_PGBACKREST_CONTAINER = pg.container.name
        settings.BACKUP_PGBACKREST_USER = "postgres"
        settings.BACKUP_PGBACKREST_DATABASE = url
        settings.BACKUP_PGBACKREST_PG_PATH = DATA
        settings.BACKUP_PGBACKREST_CONFIG = ""
        settings.BACKUP_PGBACKREST_REPO_PATH = ""
        settings.BACKUP_PGBACKREST_CIPHER_PASS_FILE = ""
        cache.clear()
        stanza_setup()
        try:
            yield pg, url
        finally:
            _remove_labelled(pg.client, pg.container.name)


def _remove_labelled(client: docker.DockerClient, source: str) -> None:
    """Whatever a test's restores left (a kept restore is the operator's: the test removes it itself)."""
    for container in client.containers.list(all=True, filters={"label": LABEL_OWNER}):
        if container.name.startswith(source):
            container.remove(force=True)
    for volume in client.volumes.list(filters={"label": LABEL_OWNER}):
        if volume.name.startswith(source):
            with contextlib.suppress(docker.errors.APIError):
                volume.remove(force=True)


def _labelled(client: docker.DockerClient, source: str) -> list[str]:
    names = [c.name for c in client.containers.list(all=True, filters={"label": LABEL_OWNER})]
    names += [v.name for v in client.volumes.list(filters={"label": LABEL_OWNER})]
    return [name for name in names if name.startswith(source)]


def _write(url: str, ids: range) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY)")
        for i in ids:
            conn.execute("INSERT INTO orders VALUES (%s)", [i])


def _ids(port: int) -> list[int]:
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM orders ORDER BY id")]


def _switch_and_wait(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]

        def archived() -> bool:
            last = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0]
            return bool(last) and last[8:] >= segment[8:]

        wait_for(archived, timeout=60, what=f"WAL {segment} to be archived")


def _full_backup() -> BackupRun:
    run = backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli").pk)
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    return run


def test_restore_to_a_time_starts_a_new_container_on_a_new_volume_with_exactly_the_rows_before_it(db_data):
    pg, url = db_data
    pg.container.reload()
    started = pg.container.attrs["State"]["StartedAt"]
    _write(url, range(1, 41))
    _full_backup()
    _write(url, range(41, 61))
    with psycopg.connect(url, autocommit=True) as conn:
        time.sleep(0.05)
        moment = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    time.sleep(0.05)
    _write(url, range(61, 81))
    _switch_and_wait(url)

    restore = physical_restore_create(target_type="time", target=moment.isoformat())
    done = physical_restore_execute(restore_id=restore.pk)

    assert done.status == RestoreRun.Status.SUCCEEDED, done.error + done.log
    name = f"{pg.container.name}-pitr-{restore.pk}"  # derived, and recorded with the port on the restore
    assert done.pg_path == name and done.port
    restored = pg.client.containers.get(name)
    assert restored.id[:12] in done.target and f"{name}-data" in done.target
    assert restored.status == "running" and restored.labels[LABEL_RESTORE] == str(restore.pk)
    assert restored.image.id == pg.container.image.id
    assert _ids(done.port) == list(range(1, 61))  # exactly the rows committed before T
    with psycopg.connect(host="127.0.0.1", port=done.port, user="postgres", dbname="postgres") as conn:
        assert conn.execute("SHOW archive_mode").fetchone() == ("off",)  # never archives into the stanza
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    # the running container was not touched, and a succeeded restore's container is the operator's: kept
    pg.container.reload()
    assert pg.container.status == "running" and pg.container.attrs["State"]["StartedAt"] == started
    assert _ids(int(url.rsplit(":", 1)[1].split("/")[0])) == list(range(1, 81))
    assert restored_containers_reap() == []
    assert pg.client.containers.get(name).status == "running"


def test_a_restore_into_a_taken_name_or_over_the_running_container_is_refused_with_nothing_created(db_data):
    pg, url = db_data
    _write(url, range(1, 5))
    _full_backup()
    over = physical_restore_execute(restore_id=physical_restore_create(target_type="latest", in_place=True).pk)
    assert over.status == RestoreRun.Status.REFUSED and "does not restore over the running container" in over.error
    taken = physical_restore_execute(restore_id=physical_restore_create(
        target_type="latest", pg_path=pg.container.name).pk)
    assert taken.status == RestoreRun.Status.REFUSED and "running container" in taken.error
    assert _labelled(pg.client, pg.container.name) == []


def test_the_drill_of_a_container_proves_the_marked_moment_and_leaves_no_container_or_volume(db_data):
    pg, url = db_data
    _write(url, range(1, 30))
    run = _full_backup()

    assert pitr_drill() is True

    run.refresh_from_db()
    assert run.verification == BackupRun.Verification.DRILL_PASSED, run.verification_detail
    assert run.drill_rto_seconds is not None and run.drill_rto_seconds > 0
    assert _labelled(pg.client, pg.container.name) == []
    assert pg.container.name in [c.name for c in pg.client.containers.list()]  # the running one stays


def _restore_in_child(restore_id: int) -> None:
    connections.close_all()  # the parent's connections are not this process's
    physical_restore_execute(restore_id=restore_id)
    os._exit(0)


def test_a_worker_killed_mid_restore_leaves_nothing_the_reaper_does_not_remove(db_data):
    pg, url = db_data
    with psycopg.connect(url, autocommit=True) as conn:  # enough data for the restore to take a while
        conn.execute("CREATE TABLE filler AS SELECT g, md5(g::text) AS h FROM generate_series(1, 1000000) g")
    _full_backup()
    _switch_and_wait(url)
    restore = physical_restore_create(target_type="latest")
    connections.close_all()
    worker = multiprocessing.get_context("fork").Process(target=_restore_in_child, args=(restore.pk,))
    worker.start()
    try:
        def restoring() -> bool:  # the helper (pgbackrest restore) or the new container runs
            return any(c.status == "running" for c in pg.client.containers.list(
                all=True, filters={"label": f"{LABEL_RESTORE}={restore.pk}"}))

        wait_for(restoring, timeout=120, interval=0.05, what="the restore's helper container to run")
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.join()
    assert _labelled(pg.client, pg.container.name)  # left behind by the killed worker
    reaped: list[str] = []

    def reaper_round() -> bool:
        # A request the killed worker had sent may still create a container after a round: the next one removes it.
        reaped.extend(restored_containers_reap())
        return _labelled(pg.client, pg.container.name) == []

    wait_for(reaper_round, timeout=60, interval=1, what="the reaper to remove the killed restore's leftovers")
    assert reaped
    restore.refresh_from_db()
    assert restore.status == RestoreRun.Status.FAILED and "worker lost" in restore.error
    assert django_settings.BACKUP_PGBACKREST_CONTAINER in [c.name for c in pg.client.containers.list()]


def test_the_cli_restores_into_a_named_container_and_labels_what_it_made(db_data):
    """`restore --latest --container NAME`: the new container and its volume NAME-data, labelled for the reaper."""
    pg, url = db_data
    _write(url, range(1, 5))
    _full_backup()
    _switch_and_wait(url)
    name = f"{pg.container.name}-cli"
    out = io.StringIO()
    call_command("restore", "--latest", "--container", name, stdout=out)

    done = RestoreRun.objects.get()
    assert done.status == RestoreRun.Status.SUCCEEDED and done.pg_path == name
    assert f"in the new container {name} (volume {name}-data) on port {done.port}" in out.getvalue()
    labels = pg.client.volumes.get(f"{name}-data").attrs["Labels"]
    assert labels[LABEL_PURPOSE] == "restore" and labels[LABEL_RESTORE] == str(done.pk)
    assert labels[LABEL_OWNER].endswith(f":{os.getpid()}")
    assert _ids(done.port) == [1, 2, 3, 4]
    with pytest.raises(CommandError, match="not restore over it"):
        call_command("restore", "--latest", "--in-place", "--yes")


def test_the_admin_form_asks_for_a_container_name_and_queues_a_restore_into_it(db_data, client, django_user_model):
    pg, url = db_data
    user = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_backuprun", "restore_backup",
                                                                       "view_restorerun"]))
    client.force_login(user)
    _write(url, range(1, 4))
    _full_backup()
    _switch_and_wait(url)
    form_url = reverse("admin:backups_backuprun_point_in_time")
    page = client.get(form_url).content.decode()
    assert "New container&#x27;s name" in page and 'name="in_place"' not in page and "container-restore" in page

    response = client.post(form_url, {"target_type": "latest", "pg_path": "", "port": "", "confirmation": STANZA})

    restore = RestoreRun.objects.get()
    assert response.status_code == 302, response.content.decode()[-2000:]
    shown = client.get(response["Location"]).content.decode()  # the derived name and port, shown from the start
    assert f"{pg.container.name}-pitr-{restore.pk}" in shown and str(restore.port) in shown
    done = restore_run_execute(restore_id=restore.pk)  # what the worker does with the queued task
    assert done.status == RestoreRun.Status.SUCCEEDED, done.error
    assert done.pg_path == f"{pg.container.name}-pitr-{restore.pk}" and _ids(done.port) == [1, 2, 3]


def test_the_restored_container_gets_no_secret_the_running_one_does_not_hold():
    """`docker inspect` of a restored container shows its environment: the portal's passphrase and S3 keys stay out;
    the running container's own variables (its secrets included, already visible) and the portal's options are in."""
    ours = {"PGBACKREST_STANZA": "main", "PGBACKREST_PG1_PATH": DATA, "PGBACKREST_REPO1_CIPHER_PASS": "portal-secret",
            "PGBACKREST_REPO1_S3_KEY_SECRET": "s3-secret", "PGBACKREST_REPO1_CIPHER_TYPE": "aes-256-cbc"}
    source = ["PATH=/usr/bin", "PGBACKREST_STANZA=old", "PGBACKREST_REPO1_CIPHER_PASS=its-own"]

    env = restored_environment(source, ours)

    assert "portal-secret" not in " ".join(env) and "s3-secret" not in " ".join(env)
    assert "PGBACKREST_REPO1_CIPHER_PASS=its-own" in env and "PATH=/usr/bin" in env
    assert "PGBACKREST_STANZA=main" in env and "PGBACKREST_STANZA=old" not in env
    assert "PGBACKREST_REPO1_CIPHER_TYPE=aes-256-cbc" in env
