"""Creating the stanza (`pgbackrest stanza-create`) and proving the set-up (`pgbackrest check`)."""

from __future__ import annotations

from backups.physical.command import pgbackrest_run


def stanza_setup() -> str:
    """stanza-create (idempotent in pgBackRest) then check; returns pgBackRest's output. PgBackRestError on failure."""
    output = pgbackrest_run(["stanza-create"], timeout=300)
    output += pgbackrest_run(["check"], timeout=300)
    return output


def stanza_check() -> None:
    """`pgbackrest check`: the repository answers and a WAL segment reaches it (it forces a WAL switch)."""
    pgbackrest_run(["check"], timeout=300)
