"""SQLite through its online backup API: a consistent copy even while the portal writes."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def row_counts(path: str | Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            name: conn.execute(f'SELECT count(*) FROM "{name.replace(chr(34), chr(34) * 2)}"').fetchone()[0]  # noqa: S608
            for name in tables
        }


@contextlib.contextmanager
def private_tempdir(near: Path | None = None) -> Iterator[Path]:
    """A 0700 temporary folder (mkdtemp's default), removed afterwards: copies of databases hold secrets."""
    folder = Path(tempfile.mkdtemp(prefix="opsportal-backup-", dir=str(near) if near else None))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def online_copy(source: str | Path, destination: Path) -> None:
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)


def is_sqlite_database(path: Path) -> bool:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        return False


def write_stream(reader: BinaryIO, destination: Path) -> None:
    with open(destination, "wb") as out:
        shutil.copyfileobj(reader, out, 1 << 20)
