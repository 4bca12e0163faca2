"""Database reads of health checks that can share one statement (one round trip, one database-pool job).

A check whose database work is one read declares it as a `SqlRead` (`HealthCheck.sql_read()`): SQL expressions
(scalar subqueries, each one value) with their parameters, and `finish(values, seconds)` that turns the values,
and the round trip they took, into the check's outcome. `read_alone()` runs one read as its own statement (what
the check's `run()` does); `read_together()` runs every read of one database alias as one `SELECT a, b, c, ...`,
so the database, backups and celery checks and the other hosts' reports cost one round trip per report instead of
four (the runner does this on one database-pool thread).

Each part keeps its own outcome: `finish` runs per part and an exception it raises is that part's failure. When the
shared statement fails (PostgreSQL aborts the whole statement when one subquery fails: a missing table, a
permission, a bad cast), every part is read again alone, so each part gets its own answer and the failing one its
own error; only a failure of the connection itself (which every part shares) is every part's failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import DatabaseError, connections

from monitoring.checks.base import Answer, answer_of


@dataclass
class SqlRead:
    alias: str
    columns: Sequence[str]  # SQL expressions, each one value (a scalar subquery, a function call), with %s params
    finish: Callable[[tuple, float], object]  # (the columns' values, seconds of the round trip) -> outcome
    params: Sequence[object] = field(default_factory=list)


def _ready(alias: str):
    # Connecting, or Django's probe of a reused connection (CONN_HEALTH_CHECKS), is not part of the round trip.
    connection = connections[alias]
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    return connection


def _execute(alias: str, columns: Sequence[str], params: Sequence[object]) -> tuple[tuple, float]:
    connection = _ready(alias)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(columns), list(params))
        row = cursor.fetchone()
    return row, time.perf_counter() - started


def read_alone(read: SqlRead) -> object:
    """One read as its own statement; its outcome (exceptions propagate, as from a check's run())."""
    row, seconds = _execute(read.alias, read.columns, read.params)
    return read.finish(tuple(row), seconds)


def read_together(reads: Sequence[SqlRead]) -> list[Answer]:
    """Every read (all of one alias) in one statement; one Answer per read, in order.

    A failure to connect raises (every part shares it); a failed statement is retried part by part."""
    alias = reads[0].alias
    columns = [column for read in reads for column in read.columns]
    params = [param for read in reads for param in read.params]
    _ready(alias)  # a database that cannot be reached raises here: the same reason for every part
    if len(reads) == 1:
        return [answer_of(lambda: read_alone(reads[0]))]
    try:
        row, seconds = _execute(alias, columns, params)
    except DatabaseError:
        return [answer_of(lambda read=read: read_alone(read)) for read in reads]
    answers = []
    offset = 0
    for read in reads:
        values = tuple(row[offset : offset + len(read.columns)])
        answers.append(answer_of(lambda read=read, values=values: read.finish(values, seconds)))
        offset += len(read.columns)
    return answers


def read_parts(parts: Sequence[tuple[Callable[[], SqlRead | None], Callable[[], object]]]) -> list[Answer]:
    """On a database-pool thread: build each part's read (`build`, e.g. a check's sql_read: it may touch settings
    and the filesystem, which must not happen in the caller's thread), read them all in one statement, and run
    `alone` for a part that has no read after all. One Answer per part, in order; a part whose read could not be
    built has that error as its answer. A database that cannot be reached raises (every part's reason)."""
    answers: list[Answer | None] = [None] * len(parts)
    reads: list[tuple[int, SqlRead]] = []
    for position, (build, alone) in enumerate(parts):
        built = answer_of(build)
        if built.error is not None:
            answers[position] = built
        elif built.value is None:
            answers[position] = answer_of(alone)
        else:
            reads.append((position, built.value))  # type: ignore[arg-type]
    if reads:
        for (position, _read), answer in zip(reads, read_together([read for _p, read in reads]), strict=True):
            answers[position] = answer
    return answers  # type: ignore[return-value]
