"""A stream that breaks while pg_restore reads it: a stored artifact corrupted after its checksum was recorded
(64 bytes flipped in the middle, or cut there; sha256 fixed up so only decoding notices), S3 lost mid-download, a
source that fails only after its last byte. The drill and the restore fail within seconds naming that cause,
pg_restore is ended (its single transaction rolls back, so the target keeps its data and no lock stays) and the
drill's scratch database is dropped. Before, pg_restore waited forever on its open stdin, holding its locks.
"""

from __future__ import annotations

import io
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg
import pytest
from django.db import connection, connections

from backups.models import BackupArtifact, BackupRun, RestoreRun
from backups.services.restore import restore_run_create_and_execute
from backups.services.verify import backup_run_verify
from backups.sources.database import pg_restore_stream
from tests.backups.conftest import PG
from tests.backups.s3 import Bucket
from tests.backups.tcp_proxy import FreezableProxy
from tests.conftest import wait_for
from tests.faults.test_zstd_bomb import swap_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]
ALIAS = "ledger"
WITHIN = 20.0
STATE = "SELECT count(*), sum(id), max(note) FROM ledger_entries"


@pytest.fixture
def ledger(settings, new_database_url) -> Iterator[str]:
    """A second PostgreSQL database alias with a few MB of data (several zstd blocks), the only one backed up."""
    url = new_database_url()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger_entries AS SELECT g AS id, md5(random()::text) || md5(g::text) AS note "
                     "FROM generate_series(1, 60000) g")
        conn.execute("CREATE INDEX ledger_entries_note ON ledger_entries (note)")
    connections.settings[ALIAS] = {**connection.settings_dict, "NAME": name}
    settings.BACKUP_DATABASES = [ALIAS]
    try:
        yield url
    finally:
        connections[ALIAS].close()
        del connections.settings[ALIAS]
        if hasattr(connections._connections, ALIAS):
            delattr(connections._connections, ALIAS)


def damage(backup_dir: Path, artifact: BackupArtifact, how: str = "flipped") -> None:
    """Flip 64 bytes in the middle of the stored artifact (or cut it there); sha256 and size are fixed up in the
    catalog and the manifest, so only decoding notices."""
    data = bytearray((backup_dir / artifact.path).read_bytes())
    middle = len(data) // 2
    if how == "truncated":
        del data[middle:]
    else:
        for index in range(middle, middle + 64):
            data[index] ^= 0xFF
    swap_in(backup_dir, artifact, bytes(data))


def pg_restores() -> list[psutil.Process]:
    """The pg_restore processes restoring under this test (not the short-lived `pg_restore --version` checks)."""
    found = []
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if child.name() == "pg_restore" and "--version" not in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def finishes_within(seconds: float, work: Callable[[], object]) -> object:
    """work()'s result if it returns within `seconds`; else end its pg_restore (the test must not hang) and fail."""
    outcome: list[object] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:
            failure.append(exc)
        finally:
            connections.close_all()  # this thread's own sessions must not outlive the test

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for process in pg_restores():
            process.kill()
        thread.join(60)
        pytest.fail(f"still running after {seconds:.0f}s (pg_restore waiting on its stdin?)")
    if failure:
        raise failure[0]
    return outcome[0]


def state(url: str) -> tuple:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(STATE).fetchone()


def locks_on(url: str) -> list[tuple]:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        return conn.execute(
            "SELECT l.pid, l.mode, l.relation::regclass::text FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE d.datname = %s AND l.pid <> pg_backend_pid()",
            [name],
        ).fetchall()


def drill_databases(run: BackupRun) -> list[str]:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        return [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"opsportal_drill_{run.pk}_%"]
        ).fetchall()]


def corrupted_backup(backup_dir: Path, run_backup, how: str = "flipped") -> tuple[BackupRun, BackupArtifact]:
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    artifact = run.artifacts.get()
    assert artifact.stored_bytes > 1 << 20  # the flipped bytes land in a data block, far from the end
    damage(backup_dir, artifact, how)
    return run, artifact


@pytest.mark.parametrize(
    ("how", "encrypt"), [("flipped", False), ("flipped", True), ("truncated", False)],
    ids=["flipped", "flipped-encrypted", "truncated"],
)
def test_a_drill_of_an_artifact_that_breaks_while_decoding_fails_fast_and_drops_its_scratch_database(
    backup_dir, ledger, run_backup, how, encrypt, request
):
    if encrypt:
        request.getfixturevalue("encrypted")
    run, artifact = corrupted_backup(backup_dir, run_backup, how)

    result = finishes_within(WITHIN, lambda: backup_run_verify(run_id=run.pk, drill=True))

    assert not result.ok
    [problem] = result.problems
    assert problem.startswith(f"database:{ALIAS}: drill failed: "), problem
    assert "could not be decoded" in problem or "could not be decrypted" in problem, problem
    assert "pg_restore exited" not in problem, problem
    assert pg_restores() == []
    assert drill_databases(run) == []
    run.refresh_from_db()
    assert run.verification == BackupRun.Verification.FAILED
    assert problem in run.verification_detail


def test_a_restore_of_an_artifact_that_breaks_while_decoding_fails_fast_and_leaves_the_target_as_it_was(
    backup_dir, ledger, run_backup
):
    run, artifact = corrupted_backup(backup_dir, run_backup)
    with psycopg.connect(ledger, autocommit=True) as conn:
        conn.execute("DELETE FROM ledger_entries WHERE id % 3 = 0; UPDATE ledger_entries SET note = 'after' "
                     "WHERE id = 1")
    before = state(ledger)

    restore = finishes_within(WITHIN, lambda: restore_run_create_and_execute(run_id=run.pk))

    assert restore.status == RestoreRun.Status.FAILED, restore.error
    assert "could not be decoded" in restore.error and "pg_restore exited" not in restore.error, restore.error
    assert restore.safety_run.status == BackupRun.Status.SUCCEEDED
    assert pg_restores() == []
    assert locks_on(ledger) == []
    assert state(ledger) == before  # pg_restore --single-transaction died without committing


class FailsAtTheEnd(io.RawIOBase):
    """A whole pg_dump archive whose source breaks where its end should be: the last read times out (as S3 does)."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = self.inner.readinto(buffer)
        if not size:
            time.sleep(3)  # plenty for pg_restore to restore and commit, had it been given the whole archive
            raise TimeoutError("the storage read timed out on the last read")
        return size


def test_pg_restore_never_commits_a_stream_that_breaks_only_after_its_last_byte(ledger):
    """A decoder notices some breakage only at the very end (zstd's checksum, age's last chunk, the recorded size):
    pg_restore has the whole archive by then and must not commit it."""
    archive = subprocess.run(["pg_dump", "-Fc", "-Z0", ledger], check=True, capture_output=True).stdout
    with psycopg.connect(ledger, autocommit=True) as conn:
        conn.execute("DELETE FROM ledger_entries WHERE id % 3 = 0")
    before = state(ledger)
    db = connections[ALIAS].settings_dict

    with pytest.raises(TimeoutError, match="last read"):
        finishes_within(WITHIN, lambda: pg_restore_stream(db, FailsAtTheEnd(archive), create=False, log=print))

    assert pg_restores() == []
    assert locks_on(ledger) == []
    assert state(ledger) == before


@pytest.fixture
def ledger_behind_proxy(settings, backup_dir, ledger, s3_endpoint) -> Iterator[FreezableProxy]:
    """The ledger, grown by 16 MiB of random bytes (the download outlasts pg_restore's start), backed up to a real
    S3 bucket reached through a proxy of the test's own."""
    with psycopg.connect(ledger, autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger_scans AS SELECT g AS id, (SELECT decode(string_agg(md5(random()::text || g "
                     "|| h), ''), 'hex') FROM generate_series(1, 65536) h) AS scan FROM generate_series(1, 16) g")
    target = urlsplit(s3_endpoint)
    proxy = FreezableProxy(target.hostname, target.port)
    settings.BACKUP_S3_TIMEOUT = timedelta(seconds=3)
    settings.BACKUP_S3_ATTEMPTS = 2
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**Bucket(s3_endpoint).storage_options(), "endpoint_url": proxy.url},
        },
    }
    yield proxy
    proxy.close()


def test_s3_lost_in_the_middle_of_a_restore_fails_it_fast_naming_the_lost_connection_and_ends_pg_restore(
    ledger_behind_proxy, run_backup, new_database_url
):
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    into = new_database_url()
    lost: list[bool] = []

    def lose_s3_once_pg_restore_reads() -> None:
        wait_for(pg_restores, timeout=60, interval=0.02, what="pg_restore to start")
        ledger_behind_proxy.close()  # connections reset mid-download, the port refuses
        lost.append(True)

    closer = threading.Thread(target=lose_s3_once_pg_restore_reads, daemon=True)
    closer.start()

    restore = finishes_within(WITHIN + 40, lambda: restore_run_create_and_execute(run_id=run.pk, into=into))

    closer.join(10)
    assert lost, "pg_restore never started"
    assert restore.status == RestoreRun.Status.FAILED, restore.error
    assert "pg_restore exited" not in restore.error, restore.error
    assert "reading from response stream" in restore.error and "reset" in restore.error, restore.error
    assert pg_restores() == []
    assert locks_on(into) == []
    with psycopg.connect(into, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
