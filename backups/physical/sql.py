"""What the portal asks the backed-up PostgreSQL itself: restore points, WAL switches, pg_stat_archiver, markers."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg

from backups import postgres
from backups.physical.config import database_settings

_RESTORE_POINT_NAME = re.compile(r"^[A-Za-z0-9._:-]{1,63}$")
MARKER_TABLE = "opsportal_pitr_marker"  # a constant: the f-strings below hold no input


def connect(db: dict | None = None) -> psycopg.Connection:
    return postgres.connect(db or database_settings())


def valid_restore_point_name(name: str) -> bool:
    return bool(_RESTORE_POINT_NAME.match(name))


def switch_wal_and_wait(conn: psycopg.Connection, *, timeout: float = 60.0) -> str:
    """Close the current WAL segment and wait until it is archived: from then on, every commit so far is restorable.

    Raises TimeoutError naming the segment when the archive does not take it in time (a stopped archive).
    """
    segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
    deadline = time.monotonic() + timeout
    while True:
        last, failed_wal = conn.execute(
            "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver"
        ).fetchone()
        # Segment names of one timeline sort as their positions do; the timeline prefix comes first.
        if last and last[8:] >= segment[8:]:
            return segment
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"WAL segment {segment} was not archived within {timeout:.0f} s (last archived: {last or 'none'}, "
                f"last failed: {failed_wal or 'none'})"
            )
        time.sleep(0.2)


def restore_point_create(name: str, *, wait_archived: bool = True, timeout: float = 60.0) -> str:
    """pg_create_restore_point(name), then the WAL switch that makes it reachable; returns its LSN."""
    if not valid_restore_point_name(name):
        raise ValueError(f"invalid restore point name {name!r}: use letters, digits and . _ : - (at most 63)")
    with connect() as conn:
        lsn = str(conn.execute("SELECT pg_create_restore_point(%s)", [name]).fetchone()[0])
        if wait_archived:
            switch_wal_and_wait(conn, timeout=timeout)
    return lsn


@dataclass(frozen=True)
class ArchiverState:
    archive_mode: str
    archived_count: int
    last_archived_wal: str | None
    last_archived_time: datetime | None
    failed_count: int
    last_failed_wal: str | None
    last_failed_time: datetime | None
    current_wal: str
    now: datetime

    @property
    def failing(self) -> bool:
        """The latest attempt failed: nothing archived since the last failure."""
        return self.last_failed_time is not None and (
            self.last_archived_time is None or self.last_failed_time > self.last_archived_time
        )

    @property
    def pending_segments(self) -> int:
        """Complete segments not yet archived (the one being written is not counted)."""
        if not self.last_archived_wal:
            return 0
        return max(0, _segment_number(self.current_wal) - _segment_number(self.last_archived_wal) - 1)

    @property
    def seconds_since_archived(self) -> float | None:
        if self.last_archived_time is None:
            return None
        return max(0.0, (self.now - self.last_archived_time).total_seconds())


def _segment_number(name: str) -> int:
    # TTTTTTTTXXXXXXXXYYYYYYYY: log id and segment; 16 MB segments give 256 segments per log id.
    return int(name[8:16], 16) * 0x100 + int(name[16:24], 16)


def archiver_state() -> ArchiverState:
    with connect() as conn:
        row = conn.execute(
            "SELECT current_setting('archive_mode'), archived_count, last_archived_wal, last_archived_time, "
            "failed_count, last_failed_wal, last_failed_time, "
            "CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_walfile_name(pg_current_wal_lsn()) END, now() "
            "FROM pg_stat_archiver"
        ).fetchone()
    return ArchiverState(*row)


def marker_write(conn: psycopg.Connection, token: str, phase: str) -> datetime:
    """A marker row committed now; returns its commit-side time (clock_timestamp after the commit)."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (id bigserial PRIMARY KEY, token text NOT NULL, "
        "phase text NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp())"
    )
    conn.execute(f"INSERT INTO {MARKER_TABLE} (token, phase) VALUES (%s, %s)", [token, phase])  # noqa: S608
    return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def marker_phases(conn: psycopg.Connection, token: str) -> list[str]:
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [MARKER_TABLE]).fetchone()[0]
    if not exists:
        return []
    rows = conn.execute(f"SELECT phase FROM {MARKER_TABLE} WHERE token = %s ORDER BY id", [token]).fetchall()  # noqa: S608
    return [row[0] for row in rows]


def marker_cleanup(conn: psycopg.Connection, token: str) -> None:
    conn.execute(f"DELETE FROM {MARKER_TABLE} WHERE token = %s", [token])  # noqa: S608
