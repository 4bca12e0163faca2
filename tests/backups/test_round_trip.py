"""Back up a database full of awkward data, restore it --into a new database, and compare everything."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.core.management import call_command

from backups.models import BackupRun, RestoreRun
from backups.services.restore import restore_run_create_and_execute
from tests.backups.conftest import current_db_url, schema_dump, table_contents

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def backup_held_on(table: str, run_backup, waiting: str) -> Iterator[tuple[psycopg.Connection, int, dict]]:
    """Run a backup in a thread while `table` is locked; yield (a connection, the pid of the backup's connection
    waiting for the lock with a query LIKE `waiting`, the outcome dict) once it waits; release, join, drop `table`."""
    from django.db import connections

    url = current_db_url()
    outcome: dict[str, BackupRun] = {}

    def backup() -> None:
        try:
            outcome["run"] = run_backup()
        finally:
            connections.close_all()  # this thread's own connection, or the test database cannot be dropped

    holder = psycopg.connect(url)
    holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    thread = threading.Thread(target=backup)
    thread.start()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while not (row := conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'opsportal-backup'"
                " AND wait_event_type = 'Lock' AND query LIKE %s", [waiting]
            ).fetchone()):
                assert time.monotonic() < deadline, f"no query LIKE {waiting!r} of the backup waited for {table}"
                time.sleep(0.05)
            yield conn, row[0], outcome
    finally:
        holder.rollback()
        holder.close()
        thread.join(60)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {table}")


def without_catalog(contents: dict[str, list[str]]) -> dict[str, list[str]]:
    """The backup catalog itself changes after the dump (the run finishes, the restore is recorded)."""
    return {table: rows for table, rows in contents.items() if not table.startswith("public.backups_")}


def test_round_trip_into_a_new_database_keeps_schema_and_every_row(
    backup_dir, rich_schema, run_backup, new_database_url
):
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    artifact = run.artifacts.get(kind="database")
    assert artifact.format == "pg_dump-custom"
    assert artifact.metadata["row_counts"]["bk_extra.documents"] == 501
    assert artifact.metadata["row_counts"]["public.bk_legacy_notes"] == 3
    assert artifact.metadata["server_version"].startswith("15")

    target = new_database_url()
    restore = restore_run_create_and_execute(run_id=run.pk, into=target)
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert restore.safety_run is None  # a new database has nothing to protect

    assert schema_dump(target) == schema_dump(current_db_url())
    assert without_catalog(table_contents(target)) == without_catalog(table_contents(current_db_url()))
    with psycopg.connect(target) as conn:
        assert conn.execute("SELECT nextval('bk_extra.documents_id_seq')").fetchone()[0] == 100001
        assert conn.execute("SELECT nextval('bk_extra.invoice_numbers')").fetchone()[0] == 1035
        assert conn.execute("SELECT bk_extra.double_it(21)").fetchone()[0] == 42
        assert conn.execute("SELECT count(*) FROM bk_extra.expensive").fetchone()[0] > 0


def test_encrypted_round_trip_through_the_restore_command(
    backup_dir, encrypted, rich_schema, run_backup, new_database_url
):
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    artifact = run.artifacts.get(kind="database")
    assert artifact.encrypted and artifact.path.endswith(".pgdump.zst.age")
    assert b"large value" not in (backup_dir / artifact.path).read_bytes()

    target = new_database_url()
    call_command("restore", str(run.pk), "--into", target, "--yes")
    assert without_catalog(table_contents(target)) == without_catalog(table_contents(current_db_url()))


def test_into_refuses_a_database_that_already_has_tables(backup_dir, run_backup):
    run = run_backup()
    restore = restore_run_create_and_execute(run_id=run.pk, into=current_db_url())
    assert restore.status == RestoreRun.Status.REFUSED
    assert "already has tables" in restore.error


def test_rows_committed_while_pg_dump_runs_are_neither_in_the_dump_nor_in_its_row_counts(
    backup_dir, run_backup, new_database_url
):
    """The row counts are counted beside the dump, on a connection of their own: they must still see the dump's
    snapshot exactly. pg_dump and the counting are held by a lock on one table while rows are added (and committed)
    to a table counted after it."""
    url = current_db_url()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bk_a_held (id int)")
        conn.execute("CREATE TABLE bk_z_growing (id int)")
        conn.execute("INSERT INTO bk_z_growing SELECT generate_series(1, 40)")
    try:
        # pg_dump's LOCK TABLE waits for the held table: the snapshot is exported. (The size estimate before it
        # waits too, briefly, with its own lock timeout: not that one.)
        with backup_held_on("bk_a_held", run_backup, "LOCK TABLE%") as (conn, _pid, outcome):
            conn.execute("INSERT INTO bk_z_growing SELECT generate_series(41, 100)")  # committed after the snapshot
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE bk_z_growing")
    run = outcome["run"]
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    counts = run.artifacts.get(kind="database").metadata["row_counts"]
    assert counts["public.bk_z_growing"] == 40
    assert counts["public.bk_a_held"] == 0

    target = new_database_url()
    restore = restore_run_create_and_execute(run_id=run.pk, into=target)
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    with psycopg.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM bk_z_growing").fetchone()[0] == 40


def test_a_backup_whose_row_counting_connection_is_killed_fails_and_keeps_no_files(backup_dir, run_backup):
    """The counts are part of the artifact (drills compare them): if their connection dies while pg_dump goes on, the
    backup fails naming the counting, and leaves no file, rather than succeeding without counts."""
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE bk_a_held (id int)")
    with backup_held_on("bk_a_held", run_backup, "SELECT count(*)%") as (conn, pid, outcome):
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])
    run = outcome["run"]
    assert run.status == BackupRun.Status.FAILED
    assert "counting rows" in run.error, run.error
    assert not [path for path in backup_dir.rglob("*") if path.is_file()]
