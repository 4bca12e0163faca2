"""How many probes run at once, across every worker: PERF_PROBE_CONCURRENCY "slots", each a lock.

A page probe keeps a worker process busy for seconds. With probes limited to PERF_PROBE_CONCURRENCY slots, a worker
that also takes the monitoring queue (the Procfile's single worker, two processes) always has a process left for
snapshots and alert evaluation. A slot is a PostgreSQL session advisory lock (every host), or with SQLite (`make
run`, one host) a file lock in VAR_DIR: either is released when its holder dies, however it dies.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

PROBE_SLOT_LOCK_CLASS = 0x7072_6F62  # "prob": the first key of the two-key advisory lock; the slot is the second


@contextmanager
def perf_probe_slot() -> Iterator[int | None]:
    """Hold a free probe slot while the block runs; yield its number, or None when every slot is taken."""
    slots = range(settings.PERF_PROBE_CONCURRENCY)
    if connection.vendor == "postgresql":
        with _advisory_slot(slots) as slot:
            yield slot
    else:
        with _file_slot(slots) as slot:
            yield slot


@contextmanager
def _advisory_slot(slots: range) -> Iterator[int | None]:
    taken = None
    with connection.cursor() as cursor:
        for slot in slots:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [PROBE_SLOT_LOCK_CLASS, slot])
            if cursor.fetchone()[0]:
                taken = slot
                break
    try:
        yield taken
    finally:
        if taken is not None and connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [PROBE_SLOT_LOCK_CLASS, taken])


@contextmanager
def _file_slot(slots: range) -> Iterator[int | None]:
    for slot in slots:
        with open(settings.VAR_DIR / f"probe-slot-{slot}.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield slot
            return
    yield None
