"""Every configured Django database alias: PostgreSQL through pg_dump, SQLite through the online backup API.

The whole database is dumped, so tables of apps added later (or created outside any model) need no change here.
PostgreSQL row counts come from the same snapshot as the dump: an exported snapshot is passed to pg_dump, and a
second connection that imports it counts the rows while pg_dump runs (counting after the dump added its whole
time, 0.12-0.16 s at 1 GB, to every backup).
"""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import psycopg
from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _
from psycopg import sql

from backups import postgres, sqlite_tools
from backups.feed import feed_child
from backups.models import BackupArtifact
from backups.sources import register
from backups.sources.base import RestoreRefused, RestoreTarget, Source, SourceError, SourceStream

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux only
PG_FORMAT = "pg_dump-custom"
SQLITE_FORMAT = "sqlite3"
POSTGRES = "django.db.backends.postgresql"
SQLITE = "django.db.backends.sqlite3"


def _engine_label(engine: str) -> str:
    return {POSTGRES: "PostgreSQL", SQLITE: "SQLite"}.get(engine, engine)


class SnapshotRowCounts:
    """Every table's row count inside an exported snapshot, counted on a connection of its own in a thread.

    Started as soon as pg_dump is, so the counting overlaps the dump instead of following it. `result()` waits for the
    counts (a failure to count fails the backup, as counting after the dump did); `stop()` cancels a count still
    running (the dump failed or was interrupted) and waits for the thread.
    """

    def __init__(self, db: dict, snapshot: str) -> None:
        self.db, self.snapshot = db, snapshot
        self.counts: dict[str, int] | None = None
        self.error: BaseException | None = None
        self._conn: psycopg.Connection | None = None
        self._stopped = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="backup-row-counts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = None
        try:
            conn = postgres.connect(self.db, autocommit=False)
            with self._lock:
                if self._stopped:
                    return
                self._conn = conn
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(self.snapshot)))
            self.counts = postgres.row_counts(conn)
        except BaseException as exc:  # reported by result(); a stop() meanwhile makes it moot
            self.error = exc
        finally:
            with self._lock:
                self._conn = None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def result(self) -> dict[str, int]:
        self._thread.join()
        if self.error is not None:
            if isinstance(self.error, psycopg.Error):
                raise SourceError(postgres.scrub(_("counting rows: %(error)s") % {"error": self.error}, self.db))
            raise self.error
        return self.counts or {}

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.cancel()
        self._thread.join(timeout=30)


@register
class DatabaseSource(Source):
    kind = "database"

    @classmethod
    def configured(cls) -> list[Source]:
        return [cls(alias) for alias in settings.BACKUP_DATABASES]

    @property
    def db(self) -> dict:
        return connections[self.name].settings_dict

    def preflight(self) -> None:
        if self.db["ENGINE"] == POSTGRES:
            try:
                with postgres.connect(self.db) as conn:
                    major, text = postgres.server_version(conn)
                self.pg_dump = postgres.require_tool_not_older("pg_dump", major, text)
            except postgres.ToolError as exc:
                raise SourceError(str(exc)) from None
            self.server = (major, text)
        elif self.db["ENGINE"] != SQLITE:
            raise SourceError(_("Database engine %(engine)s cannot be backed up.") % {"engine": self.db["ENGINE"]})

    def open(self) -> contextlib.AbstractContextManager[SourceStream]:
        return self._open_postgres() if self.db["ENGINE"] == POSTGRES else self._open_sqlite()

    @contextlib.contextmanager
    def _open_postgres(self) -> Iterator[SourceStream]:
        db = self.db
        conn = postgres.connect(db, autocommit=False)
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finally)
        process = None
        counting: SnapshotRowCounts | None = None
        try:
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            _, dump_version = postgres.tool_version(self.pg_dump)
            # -Fc -Z0: custom format (pg_restore can select and reorder), uncompressed since zstd follows.
            command = [self.pg_dump, "-Fc", "-Z0", f"--snapshot={snapshot}", "--no-password"]
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=postgres.pg_env(db))
            _widen_pipe(process.stdout)
            counting = SnapshotRowCounts(db, snapshot)
            metadata = {
                "engine": "postgresql",
                "database": db["NAME"],
                "server_version": self.server[1],
                "server_major": self.server[0],
                "pg_dump_version": dump_version,
                "snapshot": snapshot,
            }
            yield SourceStream(reader=process.stdout, format=PG_FORMAT, extension="pgdump", metadata=metadata,
                               cancel=process.kill)
            code = process.wait()
            if code != 0:
                stderr.seek(0)
                message = stderr.read().decode(errors="replace").strip()
                raise SourceError(postgres.scrub(f"pg_dump exited with {code}: {message}", db))
            metadata["row_counts"] = counting.result()
        except psycopg.Error as exc:
            raise SourceError(postgres.scrub(str(exc), db)) from None
        finally:
            if counting is not None:
                counting.stop()
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
            stderr.close()
            with contextlib.suppress(Exception):
                conn.rollback()
            conn.close()

    @contextlib.contextmanager
    def _open_sqlite(self) -> Iterator[SourceStream]:
        with sqlite_tools.private_tempdir() as folder:
            copy = folder / "copy.sqlite3"
            sqlite_tools.online_copy(self.db["NAME"], copy)
            metadata = {
                "engine": "sqlite",
                "database": str(self.db["NAME"]),
                "row_counts": sqlite_tools.row_counts(copy),
            }
            with open(copy, "rb") as reader:
                yield SourceStream(reader=reader, format=SQLITE_FORMAT, extension="sqlite3", metadata=metadata)

    # --- restore -------------------------------------------------------------------------------------------------
    @classmethod
    def target_db(cls, artifact: BackupArtifact, target: RestoreTarget) -> dict:
        if target.into:
            try:
                return postgres.settings_dict_from_url(target.into)
            except Exception:
                raise RestoreRefused(_("--into is not a valid database URL.")) from None
        if artifact.name not in connections:
            raise RestoreRefused(
                _("This backup is of database alias %(alias)s, which is not configured here; use --into.")
                % {"alias": artifact.name}
            )
        return connections[artifact.name].settings_dict

    @classmethod
    def restore_target_label(cls, artifact: BackupArtifact, target: RestoreTarget) -> str:
        db = cls.target_db(artifact, target)
        if db["ENGINE"] == POSTGRES:
            return f"postgres://{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"
        return f"sqlite:///{db['NAME']}"

    @classmethod
    def check_restore(cls, artifact: BackupArtifact, target: RestoreTarget) -> None:
        db = cls.target_db(artifact, target)
        wanted = {PG_FORMAT: POSTGRES, SQLITE_FORMAT: SQLITE}.get(artifact.format)
        if wanted is None:
            raise RestoreRefused(_("Unknown database backup format %(format)s.") % {"format": artifact.format})
        if db["ENGINE"] != wanted:
            raise RestoreRefused(
                _("This backup is a %(backup)s database; it cannot be restored into %(target)s.")
                % {"backup": _engine_label(wanted), "target": _engine_label(db["ENGINE"])}
            )
        if wanted == SQLITE:
            if target.into and Path(db["NAME"]).exists() and Path(db["NAME"]).stat().st_size > 0:
                raise RestoreRefused(
                    _("--into must name a new or empty database; %(name)s exists.") % {"name": db["NAME"]}
                )
            return
        try:
            with postgres.connect(db, dbname="postgres") as conn:
                major, text = postgres.server_version(conn)
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
            postgres.require_tool_not_older("pg_restore", major, text)
            if target.into and exists:
                with postgres.connect(db) as conn:
                    if postgres.user_tables(conn):
                        raise RestoreRefused(
                            _("--into must name a new or empty database; %(name)s already has tables.")
                            % {"name": db["NAME"]}
                        )
        except postgres.ToolError as exc:
            raise RestoreRefused(str(exc)) from None

    @classmethod
    def restores_into_new_place(cls, artifact: BackupArtifact, target: RestoreTarget) -> bool:
        return bool(target.into)

    @classmethod
    def restore(cls, artifact: BackupArtifact, reader: BinaryIO, target: RestoreTarget) -> None:
        db = cls.target_db(artifact, target)
        for alias in connections:
            if connections[alias].settings_dict.get("NAME") == db["NAME"]:
                connections[alias].close()  # our own idle session must not hold a lock pg_restore waits for
        if artifact.format == PG_FORMAT:
            pg_restore_stream(db, reader, create=bool(target.into), log=target.log)
        else:
            sqlite_restore_stream(db, reader, log=target.log)


def _widen_pipe(pipe: BinaryIO) -> None:
    """A 1 MiB pipe instead of 64 KiB: fewer wake-ups between pg_dump and the compressor (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(pipe.fileno(), F_SETPIPE_SZ, 1 << 20)


def pg_create_database(db: dict) -> None:
    with postgres.connect(db, dbname="postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {postgres.quote_ident(db['NAME'])}")


def pg_restore_stream(db: dict, reader: BinaryIO, *, create: bool, log) -> None:
    """pg_restore a custom-format stream in one transaction: it applies completely or not at all."""
    if create:
        pg_create_database(db)
    with postgres.connect(db, dbname="postgres") as conn:
        major, text = postgres.server_version(conn)
    pg_restore = postgres.require_tool_not_older("pg_restore", major, text)
    command = [pg_restore, "--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--no-password"]
    if settings.BACKUP_RESTORE_NO_OWNER:
        command.append("--no-owner")
    command += ["--dbname", db["NAME"]]
    log(f"running {' '.join(command)}")
    # A broken stream ends pg_restore (its transaction rolls back) and raises the stream's error, not an exit code.
    outcome = feed_child(command, reader, env=postgres.pg_env(db))
    if outcome.code != 0:
        raise SourceError(postgres.scrub(f"pg_restore exited with {outcome.code}: {outcome.stderr}", db))


def sqlite_restore_stream(db: dict, reader: BinaryIO, *, log) -> None:
    target = Path(db["NAME"])
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite_tools.private_tempdir(target.parent) as folder:
        copy = folder / "restore.sqlite3"
        sqlite_tools.write_stream(reader, copy)
        if not sqlite_tools.is_sqlite_database(copy):
            raise SourceError(_("The restored file is not a valid SQLite database."))
        # The online backup API copies into the live file safely even while other connections have it open.
        sqlite_tools.online_copy(copy, target)
    log(f"restored SQLite database {target}")
