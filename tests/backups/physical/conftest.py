"""A PostgreSQL cluster of the test's own with WAL archiving into a pgBackRest repository under tmp.

`initdb` on a spare port, archive_mode=on, archive_command='pgbackrest --config=… --stanza=… archive-push %p', an
encrypted repository (pgBackRest's aes-256-cbc) in the cluster's folder, and the portal's settings pointing at it:
the stanza, the config file, the repository, the passphrase file, and a database alias `pitr` for the cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection, connections

from tests.conftest import free_port, wait_for
from tests.pg_cluster import PG_BIN

ALIAS = "pitr"
STANZA = "pitrtest"
PASSPHRASE = "correct-horse-battery-staple-0123456789"


class ArchivingCluster:
    def __init__(self, *, stanza: str = STANZA, passphrase: str = PASSPHRASE, repo_conf: str | None = None) -> None:
        """`repo_conf`: the repository lines of pgbackrest.conf (archive-push reads them); default a local folder."""
        if PG_BIN is None:
            pytest.fail("PostgreSQL server binaries are not installed (/usr/lib/postgresql/*/bin)")
        if shutil.which("pgbackrest") is None:
            pytest.fail("pgbackrest is not installed: apt-get install pgbackrest (scripts/services.sh does)")
        self.stanza = stanza
        self.folder = Path(tempfile.mkdtemp(prefix="pitr-pg-"))
        self.data = self.folder / "data"
        self.repo = self.folder / "repo"
        self.conf = self.folder / "pgbackrest.conf"
        self.pass_file = self.folder / "cipher-pass"
        self.scratch = self.folder / "scratch"
        self.port = free_port()
        os.chmod(self.folder, 0o755)  # noqa: S103 (the portal, as root, and postgres both work in it)
        shutil.chown(self.folder, "postgres", "postgres")
        for sub in ("log", "lock", "repo"):
            (self.folder / sub).mkdir()
            shutil.chown(self.folder / sub, "postgres", "postgres")
        if repo_conf is None:
            repo_conf = f"repo1-path={self.repo}\n"
        self.conf.write_text(
            "[global]\n"
            f"{repo_conf}repo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass={passphrase}\n"
            f"log-path={self.folder / 'log'}\nlock-path={self.folder / 'lock'}\nlog-level-file=detail\n"
            "compress-type=zst\n"
            f"[{stanza}]\npg1-path={self.data}\npg1-port={self.port}\npg1-socket-path={self.folder}\n"
        )
        os.chmod(self.conf, 0o640)
        shutil.chown(self.conf, "postgres", "postgres")
        self.pass_file.write_text(passphrase + "\n")
        os.chmod(self.pass_file, 0o600)

    def as_postgres(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True,
                              text=True, timeout=timeout, cwd="/")

    @property
    def archive_command(self) -> str:
        return f"pgbackrest --config={self.conf} --stanza={self.stanza} archive-push %p"

    def start(self) -> None:
        if not self.data.exists():
            self.as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                             "--no-sync")
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write(f"archive_mode = on\narchive_command = '{self.archive_command}'\nwal_level = replica\n"
                           f"port = {self.port}\nunix_socket_directories = '{self.folder}'\n"
                           "listen_addresses = '127.0.0.1'\nfsync = off\n")
        self.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.folder / "pg.log"),
                         "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def connect(self, port: int | None = None) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=port or self.port, user="postgres", dbname="postgres",
                               autocommit=True)

    def cleanup(self) -> None:
        for pid_file in self.folder.rglob("postmaster.pid"):  # this cluster and any restored one left running
            subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(pid_file.parent),
                            "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)

    def switch_and_wait(self) -> None:
        """Make every commit so far reachable: close the WAL segment and wait until it is archived."""
        with self.connect() as conn:
            segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]

            def archived() -> bool:
                last = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0]
                return bool(last) and last[8:] >= segment[8:]

            wait_for(archived, timeout=60, what=f"WAL {segment} to be archived")


@pytest.fixture
def archiving_cluster() -> Iterator[ArchivingCluster]:
    cluster = ArchivingCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.cleanup()


def configure_portal(settings, cluster: ArchivingCluster) -> None:
    from django.core.cache import cache

    cache.clear()  # the last `pgbackrest check` outcome of an earlier test's cluster is not this one's
    connections.settings[ALIAS] = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(cluster.port),
                                   "NAME": "postgres", "USER": "postgres", "PASSWORD": ""}
    settings.BACKUP_PGBACKREST_STANZA = cluster.stanza
    settings.BACKUP_PGBACKREST_CONFIG = str(cluster.conf)
    settings.BACKUP_PGBACKREST_USER = "postgres"
    settings.BACKUP_PGBACKREST_DATABASE = ALIAS
    settings.BACKUP_PGBACKREST_PG_PATH = str(cluster.data)
    settings.BACKUP_PGBACKREST_PG_SOCKET_PATH = str(cluster.folder)
    settings.BACKUP_PGBACKREST_REPO_PATH = str(cluster.repo)
    settings.BACKUP_PGBACKREST_CIPHER_PASS_FILE = str(cluster.pass_file)
    settings.BACKUP_PGBACKREST_SCRATCH_DIR = cluster.scratch
    settings.BACKUP_PROGRESS_EVERY = __import__("datetime").timedelta(seconds=0.5)


@pytest.fixture
def physical(settings, archiving_cluster) -> Iterator[ArchivingCluster]:
    """The cluster, with the portal configured for it and its stanza created."""
    from backups.physical.setup import stanza_setup

    configure_portal(settings, archiving_cluster)
    try:
        stanza_setup()
        yield archiving_cluster
    finally:
        connections[ALIAS].close()
        del connections.settings[ALIAS]
        if hasattr(connections._connections, ALIAS):
            delattr(connections._connections, ALIAS)


def write_rows(cluster: ArchivingCluster, ids: range, *, port: int | None = None) -> None:
    with cluster.connect(port) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, note text)")
        for i in ids:
            conn.execute("INSERT INTO orders VALUES (%s, %s)", [i, f"order {i}"])


def order_ids(port: int) -> list[int]:
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM orders ORDER BY id")]


def moment_between_commits(cluster: ArchivingCluster) -> str:
    """A time strictly after every commit so far and before any later one (the server's clock)."""
    with cluster.connect() as conn:
        time.sleep(0.05)
        moment = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    time.sleep(0.05)
    return moment.isoformat()
