"""A PostgreSQL cluster of a test's own (initdb, its own port, folder and socket directory): stopping it, killing it
or filling its connection slots harms nobody else's tests. Fixtures in tests/conftest.py hand it out."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port

PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1] if Path("/usr/lib/postgresql").exists() else None
PORT_ATTEMPTS = 5  # free_port() releases the port before the server binds it: a parallel run may take it meanwhile


class ThrowawayPostgres:
    """initdb on first start(); stop() is `-m immediate` (the server dies as on a crash); cleanup() removes all."""

    def __init__(self, *, server_options: str = "") -> None:
        if PG_BIN is None or not (PG_BIN / "initdb").exists():
            # never a skip: a machine without the server binaries cannot run these tests, and must say so
            where = PG_BIN or "/usr/lib/postgresql/*/bin"
            pytest.fail(f"PostgreSQL server binaries are not installed (no initdb in {where})")
        self.folder = Path(tempfile.mkdtemp(prefix="throwaway-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.server_options = server_options  # extra `-c name=value` settings, e.g. a low max_connections
        shutil.chown(self.folder, "postgres", "postgres")

    def as_postgres(self, *command: str) -> subprocess.CompletedProcess:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} exited with {done.returncode}: {done.stdout}{done.stderr}")
        return done

    def _pg_ctl_start(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-w",
                "-l",
                str(self.folder / "log"),
                "-o",
                f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off {self.server_options}",
                "start",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self) -> None:
        """Start the server (after initdb the first time). On the first start only, a port taken by somebody else
        meanwhile is replaced by another; a restart keeps the port, since URLs handed out name it."""
        first = not self.data.exists()
        if first:
            self.as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        for _ in range(PORT_ATTEMPTS if first else 1):
            done = self._pg_ctl_start()
            if done.returncode == 0:
                return
            log = (self.folder / "log").read_text(errors="replace") if (self.folder / "log").exists() else ""
            if not (first and "could not bind" in log):
                break
            self.port = free_port()
        pytest.fail(f"pg_ctl start exited with {done.returncode}: {done.stdout}{done.stderr}\n{log[-3000:]}")

    def stop(self) -> None:
        self.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> str:
        """CREATE DATABASE dbname on this cluster; returns its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url_for(dbname)

    def cleanup(self) -> None:
        try:
            if self.running:
                self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def throwaway_cluster(*, server_options: str = "", started: bool = True) -> Iterator[ThrowawayPostgres]:
    """A ThrowawayPostgres (started unless started=False), stopped and removed on the way out, whatever happened."""
    cluster = ThrowawayPostgres(server_options=server_options)
    try:
        if started:
            cluster.start()
        yield cluster
    finally:
        cluster.cleanup()
