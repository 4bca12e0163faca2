"""The threads that run health checks, and the fixed number of database connections they may hold.

Jobs run on two `concurrent.futures.ThreadPoolExecutor`s; the caller waits (on each job's own event) at most each
job's timeout, and never longer than the overall deadline. A job that has not answered by then is reported as failed
by the runner and abandoned: it holds no lock, and its thread goes back to work when the job finally returns. So the
caller never hangs. A job that no thread has started by then is cancelled (`Future.cancel()`): it is dropped unrun,
so a backlog never outlives the load that made it.

- Jobs that use the database (checks with `uses_database = True`, reading other hosts' reports, metric providers
  and collectors) run on the database executor: at most MONITOR_DB_CONNECTIONS threads per process, each keeping its
  connection as Django keeps a request thread's (CONN_MAX_AGE, CONN_HEALTH_CHECKS, closed after an error). When all
  of them are busy, or stuck in a database that does not answer, further database jobs wait in its queue. However
  many requests run checks at once, these checks hold at most MONITOR_DB_CONNECTIONS connections per database
  alias and process (before, each of up to 64 threads kept its own for CONN_MAX_AGE: a load of health requests
  filled PostgreSQL's max_connections and took the portal down with it).
- Every other job (Redis, Docker, disk, memory, cpu) runs on the general executor, which starts threads up to
  POOL_MAX_THREADS while threads are busy or stuck in a dead dependency. Its threads hold no database connection
  between jobs: a check that uses the database without saying so has its connections closed after each run (and is
  logged once).

A ThreadPoolExecutor never stops an idle thread. That is bounded, not leaked: the general executor's idle threads
hold no connection (closed after every job) and are at most POOL_MAX_THREADS; the database executor's idle threads
are at most MONITOR_DB_CONNECTIONS, and a connection one of them kept past CONN_MAX_AGE is closed before its next
job (close_old_connections), as a request thread's would be. So the max_workers bounds replace the old shrinking.

The executors' threads are daemon threads, as the hand-made pool's were: ThreadPoolExecutor's own threads are joined
at interpreter exit, so one check stuck for ever in a dependency that never answers kept `manage.py monitor` (and a
worker shutting down) from exiting after it had its report. `_DaemonThreadPoolExecutor` overrides the one private
method that starts a thread (`_adjust_thread_count`, as of CPython 3.11) to start daemon threads that are not
joined at exit; the rest (queue, idle-thread reuse, shutdown, futures) is the standard library's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import thread as _futures_thread

from django.conf import settings
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

POOL_MAX_THREADS = 64


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
        self.future: Future[None] | None = None

    def run(self) -> None:
        self.started = time.monotonic()  # from when a thread takes it, not from when it was queued
        try:
            self.value = self.target()
        except BaseException as exc:  # noqa: BLE001 - any failure of a check is its result, not the caller's crash
            self.error = exc
        finally:
            self.finished = time.monotonic()
            self.done.set()


class _DaemonThreadPoolExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose threads do not hold up the interpreter's exit (see the module docstring)."""

    def _adjust_thread_count(self) -> None:
        if self._idle_semaphore.acquire(timeout=0):  # an idle thread will take the job
            return
        if len(self._threads) < self._max_workers:
            work_queue = self._work_queue

            def wake_up(_: object) -> None:  # the executor was garbage-collected: let the thread see it and exit
                work_queue.put(None)

            thread = threading.Thread(
                name=f"{self._thread_name_prefix}_{len(self._threads)}", daemon=True,
                target=_futures_thread._worker,
                args=(weakref.ref(self, wake_up), work_queue, self._initializer, self._initargs))
            thread.start()
            self._threads.add(thread)  # not in _threads_queues: Python's exit hook would join it


class Pool:
    """A ThreadPoolExecutor of at most `limit` threads, with the connection handling of health-check jobs."""

    def __init__(self, *, limit: int, keeps_connections: bool) -> None:
        self.limit = limit
        self.keeps_connections = keeps_connections
        self.executor = _DaemonThreadPoolExecutor(max_workers=limit, thread_name_prefix="health-check")
        self.local = threading.local()  # per thread: when its connections last served a job without an error

    def submit(self, job: Job) -> None:
        job.future = self.executor.submit(self._run, job)

    def _run(self, job: Job) -> None:
        if job.wait_until is not None and time.monotonic() >= job.wait_until:
            # Taken just as its caller gave up (after wait() timed out, before cancel()): its caller has already
            # reported "no answer"; running it now would only feed a backlog.
            return
        if self.keeps_connections:
            _probe_unless_fresh(getattr(self.local, "last_ok", 0.0))
        try:
            job.run()
        finally:
            if self._after(job):
                self.local.last_ok = time.monotonic()
            elif self.keeps_connections:
                self.local.last_ok = 0.0

    def _after(self, job: Job) -> bool:
        """True when the job ended without an error and its thread still holds working connections."""
        if self.keeps_connections:
            # Like the end of a request: drop connections that failed or outlived CONN_MAX_AGE. Asking a broken
            # connection whether it is usable can itself raise; that must not escape into the executor.
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
    old executor is shut down without waiting; its threads finish the jobs they hold and exit)."""
    global _database
    limit = settings.MONITOR_DB_CONNECTIONS
    with _database_lock:
        if _database is None or _database.limit != limit:
            if _database is not None:
                _database.executor.shutdown(wait=False)
            _database = Pool(limit=limit, keeps_connections=True)
        return _database


def _reset_pools_after_fork() -> None:
    # A forked child (a Celery prefork child replaced after the heartbeat thread used the pool, gunicorn --preload)
    # inherits the executors' bookkeeping but none of their threads: it must start with new executors or every job
    # would wait.
    global _general, _database, _database_lock
    _general = Pool(limit=POOL_MAX_THREADS, keeps_connections=False)
    _database, _database_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_reset_pools_after_fork)


def run_jobs(jobs: list[Job], *, deadline: float, meanwhile: tuple[Job, ...] | list[Job] = ()) -> None:
    """Start every job, run the `meanwhile` jobs in this thread (checks that cannot hang), then wait for each pool
    job until its timeout or the deadline, whichever comes first; cancel the jobs no thread started by then."""
    end = time.monotonic() + deadline
    submitted = time.monotonic()
    for job in jobs:
        job.started = submitted
        job.wait_until = min(end, submitted + job.timeout)
        (_database_pool() if job.uses_database else _general).submit(job)
    for job in meanwhile:
        job.run()
    # Each job until the time its caller stops waiting for it, the nearest first: all of them have answered, or
    # had their time, when this returns. On each job's own event (set when it has run): concurrent.futures.wait()
    # built and installed a waiter on every future each time, which cost a health report more than its checks.
    submitted_jobs = [job for job in jobs if job.future is not None]
    submitted_jobs.sort(key=lambda job: job.wait_until)  # type: ignore[arg-type, return-value]
    for job in submitted_jobs:
        if not job.done.wait(max(0.0, job.wait_until - time.monotonic())):  # type: ignore[operator]
            job.future.cancel()  # type: ignore[union-attr]  # not started yet: dropped unrun


def run_database_job(label: str, target: Callable[[], object], *, timeout: float) -> object:
    """Run `target` on the database pool and return its value; TimeoutError if no thread got it done in time."""
    job = Job(label, target, timeout, uses_database=True)
    run_jobs([job], deadline=timeout)
    if not job.done.is_set():
        raise TimeoutError(f"{label}: no answer within {timeout:.1f} s")
    if job.error is not None:
        raise job.error
    return job.value
