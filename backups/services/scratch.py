"""Scratch databases of restore drills: owned through an advisory lock, so a killed drill's is dropped later.

A drill restores into `opsportal_drill_<run>_<hex>` and drops it when done. If its worker is SIGKILLed, nothing in
that process can drop it. So the drill first takes a session advisory lock named after the scratch database, on a
connection to the server's `postgres` database that it keeps open for the whole drill; the server releases the lock
when that connection dies with its process. The reaper (`scratch_databases_reap`, every tick) drops each
`opsportal_drill_%` database whose lock it can take: nobody is drilling into it any more.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from collections.abc import Iterator

from backups import postgres

logger = logging.getLogger("backups")

PREFIX = "opsportal_drill_"
POSTGRES_ENGINE = "django.db.backends.postgresql"


def _lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for a scratch database's name (same on every host and process)."""
    return int.from_bytes(hashlib.sha256(f"opsportal-scratch:{name}".encode()).digest()[:8], "big", signed=True)


def _drop(conn, name: str) -> None:
    conn.execute(f"DROP DATABASE IF EXISTS {postgres.quote_ident(name)} WITH (FORCE)")


@contextlib.contextmanager
def scratch_database(base: dict, run_id: int) -> Iterator[dict]:
    """The settings of a new scratch database on `base`'s server, owned (locked) until the block ends, then dropped."""
    scratch = {**base, "NAME": f"{PREFIX}{run_id}_{secrets.token_hex(3)}"}
    owner = postgres.connect(base, dbname="postgres")
    try:
        # taken before the database exists, so the reaper never sees it unowned while this drill lives
        owner.execute("SELECT pg_advisory_lock(%s)", [_lock_key(scratch["NAME"])])
        yield scratch
    finally:
        with contextlib.suppress(Exception):
            _drop(owner, scratch["NAME"])
        with contextlib.suppress(Exception):
            owner.close()  # ends the session: the lock goes with it


def scratch_databases_reap() -> list[str]:
    """Drop the drill databases nobody owns any more (their drill's worker died); return their names."""
    dropped: list[str] = []
    for db in postgres.known_servers():
        try:
            with postgres.connect(db, dbname="postgres") as conn:
                names = [row[0] for row in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s", [PREFIX.replace("_", r"\_") + "%"])]
                for name in names:
                    if not conn.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(name)]).fetchone()[0]:
                        continue  # a live drill holds it
                    try:
                        _drop(conn, name)
                        dropped.append(name)
                        logger.warning("dropped the scratch database %s of a drill whose worker is gone", name)
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(name)])
        except Exception:  # one unreachable server must not stop the reaper's other work
            logger.warning("could not look for leftover drill databases on %s:%s", db.get("HOST"), db.get("PORT"),
                           exc_info=True)
    return dropped
