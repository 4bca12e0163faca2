"""The threads that run health checks, and the fixed number of database connections they may hold.

Jobs run on two pools of long-lived daemon threads; the caller waits at most each job's timeout, and never longer
than the overall deadline. A job that has not answered by then is reported as failed by the runner and abandoned: it
holds no lock, and its thread goes back to work (or exits) when the job finally returns. So the caller never hangs.

- Jobs that use the database (checks with `uses_database = True`, reading other hosts' reports, metric providers
  and collectors) run on the database pool: at most MONITOR_DB_CONNECTIONS threads per process, each keeping its
  connection as Django keeps a request thread's (CONN_MAX_AGE, CONN_HEALTH_CHECKS, closed after an error). When all
  of them are busy, or stuck in a database that does not answer, further database jobs wait in its queue; a job
  whose caller has stopped waiting is dropped unrun, so a backlog never outlives the load that made it. However
  many requests run checks at once, these checks hold at most MONITOR_DB_CONNECTIONS connections per database
  alias and process (before, each of up to 64 threads kept its own for CONN_MAX_AGE: a load of health requests
  filled PostgreSQL's max_connections and took the portal down with it).
- Every other job (Redis, Docker, disk, memory, cpu) runs on the general pool, which grows to POOL_MAX_THREADS
  while threads are busy or stuck in a dead dependency. Its threads hold no database connection between jobs: a
  check that uses the database without saying so has its connections closed after each run (and is logged once).

Both shrink when threads stay idle for POOL_IDLE_SECONDS; an idle thread closes its connections and exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

POOL_MAX_THREADS = 64
POOL_IDLE_SECONDS = 60.0


class Job:
    def __init__(self, label: str, target: Callable[[], object], timeout: float, *,
                 uses_database: bool = False) -> None:
        self.label = label
        self.target = target
        self.timeout = timeout
        self.uses_database = uses_database
        self.done = threading.Event()
        self.value: object = None
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self.finished = 0.0
        self.wait_until: float | None = None  # when the caller stops waiting: a job taken later is not run

    def run(self) -> None:
        self.started = time.monotonic()  # from when a thread takes it, not from when it was queued
        try:
            self.value = self.target()
        except BaseException as exc:  # noqa: BLE001 - any failure of a check is its result, not the caller's crash
            self.error = exc
        finally:
            self.finished = time.monotonic()
            self.done.set()


class Pool:
    """Grows to `limit` threads when every thread is busy (or stuck), shrinks when threads stay idle."""

    def __init__(self, *, limit: int, keeps_connections: bool) -> None:
        self.limit = limit
        self.keeps_connections = keeps_connections
        self.jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.idle = 0  # waiting threads not yet promised a job
        self.threads = 0

    def submit(self, job: Job) -> None:
        with self.lock:
            if self.idle > 0:
                self.idle -= 1
            elif self.threads < self.limit:
                self.threads += 1
                threading.Thread(target=self._work, name="health-check", daemon=True).start()
            # else: every thread is busy; the job waits for the first one free
        self.jobs.put(job)

    def _work(self) -> None:
        last_ok = 0.0  # when this thread's connections last served a job without an error
        try:
            while True:
                try:
                    job = self.jobs.get(timeout=POOL_IDLE_SECONDS)
                except queue.Empty:
                    with self.lock:
                        if self.idle > 0:  # nobody promised this thread a job: leave
                            self.idle -= 1
                            self.threads -= 1
                            return
                    continue
                if job.wait_until is None or time.monotonic() < job.wait_until:
                    if self.keeps_connections:
                        _probe_unless_fresh(last_ok)
                    try:
                        job.run()
                    finally:
                        if self._after(job):
                            last_ok = time.monotonic()
                # else: its caller has already reported "no answer"; running it now would only feed a backlog
                with self.lock:
                    self.idle += 1
        finally:
            _close_all_quietly()

    def _after(self, job: Job) -> bool:
        """True when the job ended without an error and its thread still holds working connections."""
        if self.keeps_connections:
            # Like the end of a request: drop connections that failed or outlived CONN_MAX_AGE. Asking a broken
            # connection whether it is usable can itself raise; that must not kill the pool thread (the pool
            # would count a thread that no longer exists).
            try:
                close_old_connections()
            except Exception:
                logger.warning("closing a health-check thread's database connections failed", exc_info=True)
                _close_all_quietly()
                return False
            return job.error is None
        if any(connection.connection is not None for connection in connections.all(initialized_only=True)):
            _warn_undeclared(job.label)
            _close_all_quietly()
        return False


# CONN_HEALTH_CHECKS makes Django probe a reused connection (one more round trip, SELECT 1) before its first query
# after close_old_connections(). A connection that served a job without an error less than PROBE_AFTER_SECONDS ago
# is not probed again: under a load of health requests that probe was a second round trip for every database check.
# After a longer pause (or any error) the probe comes back, so a connection that PostgreSQL dropped meanwhile (a
# restart) is replaced before a check uses it, not reported as a failure.
PROBE_AFTER_SECONDS = 1.0


def _probe_unless_fresh(last_ok: float) -> None:
    fresh = time.monotonic() - last_ok < PROBE_AFTER_SECONDS
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.errors_occurred:
            connection.health_check_done = fresh


_warned: set[str] = set()


def _warn_undeclared(label: str) -> None:
    if label not in _warned:
        _warned.add(label)
        logger.warning("health check %s used the database without uses_database = True: its connection is closed "
                       "after every run, and its runs are not counted in MONITOR_DB_CONNECTIONS", label)


def _close_all_quietly() -> None:
    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(Exception):  # already broken: nothing more to release
            connection.close()


_general: Pool = Pool(limit=POOL_MAX_THREADS, keeps_connections=False)
_database: Pool | None = None  # made on first use, when the settings are loaded
_database_lock = threading.Lock()


def _database_pool() -> Pool:
    """The database pool for the current MONITOR_DB_CONNECTIONS (a changed setting, in tests, gets a new pool: the
    old one's threads finish their jobs and exit after POOL_IDLE_SECONDS, closing their connections)."""
    global _database
    limit = settings.MONITOR_DB_CONNECTIONS
    with _database_lock:
        if _database is None or _database.limit != limit:
            _database = Pool(limit=limit, keeps_connections=True)
        return _database


def _reset_pools_after_fork() -> None:
    # A forked child (a Celery prefork child replaced after the heartbeat thread used the pool, gunicorn --preload)
    # inherits the counters but none of the threads: it must start with empty pools or every job would wait.
    global _general, _database, _database_lock
    _general = Pool(limit=POOL_MAX_THREADS, keeps_connections=False)
    _database, _database_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_reset_pools_after_fork)


def run_jobs(jobs: list[Job], *, deadline: float, meanwhile: tuple[Job, ...] | list[Job] = ()) -> None:
    """Start every job, run the `meanwhile` jobs in this thread (checks that cannot hang), then wait for each pool
    job until its timeout or the deadline, whichever comes first."""
    end = time.monotonic() + deadline
    submitted = time.monotonic()
    for job in jobs:
        job.started = submitted
        job.wait_until = min(end, submitted + job.timeout)
        (_database_pool() if job.uses_database else _general).submit(job)
    for job in meanwhile:
        job.run()
    for job in jobs:
        job.done.wait(max(0.0, job.wait_until - time.monotonic()))


def run_database_job(label: str, target: Callable[[], object], *, timeout: float) -> object:
    """Run `target` on the database pool and return its value; TimeoutError if no thread got it done in time."""
    job = Job(label, target, timeout, uses_database=True)
    run_jobs([job], deadline=timeout)
    if not job.done.is_set():
        raise TimeoutError(f"{label}: no answer within {timeout:.1f} s")
    if job.error is not None:
        raise job.error
    return job.value
