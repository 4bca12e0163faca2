"""Every host reports its own checks, whichever processes it runs: Celery workers, gunicorn, or both.

A task scheduled by beat is taken by one worker, so it cannot tell which of several hosts are alive. Instead each
process that serves the portal on a host runs one report loop (`report_thread`, an opsportal.lib.periodic
PeriodicThread): every
MONITOR_HEARTBEAT_INTERVAL it runs the host checks (disk, memory, cpu, docker) on its own host and stores them as
that host's HostReport (`monitoring.services.host_report_record`). The health view, metrics and snapshots read
those reports, so every host appears by name.

- A Celery worker (the main process, once, whatever its pool) starts the loop on `worker_ready`; it also records a
  WorkerHeartbeat per queue it consumes.
- A gunicorn web host starts it from the hooks in `gunicorn.conf.py` (MONITOR_WEB_HOST_REPORT, on by default): every
  gunicorn worker runs the loop, but only the one holding an exclusive file lock for this host
  (VAR_DIR/web-host-report.<host>.lock) reports; the others try to take the lock each round. The kernel releases
  the lock when its holder exits, however it dies (a SIGKILL after a request timeout included), so another worker
  takes over within one interval. No WorkerHeartbeat: a web host consumes no queue.

A host running both reports twice per interval into the same HostReport row (keyed by host name): harmless.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

from opsportal.lib.periodic import PeriodicThread

logger = logging.getLogger(__name__)

_worker_thread: PeriodicThread | None = None


def report_thread(report: Callable[[], object], *, what: str) -> PeriodicThread:
    """Call report() now and then every MONITOR_HEARTBEAT_INTERVAL until stopped.

    Each round starts and ends without database connections, so an error (or a database restart) between rounds
    leaves nothing broken behind, and the thread never holds a connection while it waits.
    """
    return PeriodicThread(
        report,
        every=settings.MONITOR_HEARTBEAT_INTERVAL.total_seconds(),
        name="monitoring-heartbeat",
        error_message=f"{what} failed",
        logger=logger,
        first_round_at_start=True,
    ).start()


# --- Celery workers ---------------------------------------------------------------------------------------------

def worker_report_once(*, worker_name: str, queues: list[str]) -> None:
    from monitoring.services import host_report_record, worker_heartbeat_record

    for queue in queues:
        worker_heartbeat_record(hostname=worker_name, queue=queue, pid=os.getpid())
    host_report_record()


@worker_ready.connect
def start_worker_heartbeat(sender=None, **_: object) -> None:
    worker_name = getattr(sender, "hostname", None) or "unknown"
    queues = sorted(sender.app.amqp.queues.consume_from) if sender is not None else []
    global _worker_thread
    if _worker_thread is not None:
        _worker_thread.stop()
    _worker_thread = report_thread(lambda: worker_report_once(worker_name=worker_name, queues=queues),
                                   what="worker heartbeat")
    logger.info("monitoring heartbeat started for %s on queues %s", worker_name, ", ".join(queues))


@worker_shutdown.connect
def stop_worker_heartbeat(**_: object) -> None:
    if _worker_thread is not None:
        _worker_thread.stop()


# --- gunicorn web hosts -----------------------------------------------------------------------------------------

def web_host_lock_path(hostname: str) -> Path:
    """One lock file per host name, so a VAR_DIR shared between hosts still lets each host report."""
    return Path(settings.VAR_DIR) / f"web-host-report.{re.sub(r'[^A-Za-z0-9._-]', '_', hostname)}.lock"


class HostLock:
    """An exclusive, non-blocking flock, kept once taken until release() or the end of the process.

    The file holds the holder's process id (for an operator asking which gunicorn worker reports).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        if self.fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by subprocesses (PEP 446)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing the only descriptor releases the lock


class WebHostReporter:
    """The host report of a gunicorn worker: reports only while it holds its host's lock."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        self.lock = HostLock(web_host_lock_path(hostname))
        self.thread: PeriodicThread | None = None

    def report_once(self) -> bool:
        """Record this host's report if this process holds the host's lock (taking it if free); else nothing."""
        from monitoring.services import host_report_record

        if self.lock.fd is None:
            if not self.lock.acquire():
                return False
            logger.info("web host report: process %d reports host %s every %s", os.getpid(), self.hostname,
                        settings.MONITOR_HEARTBEAT_INTERVAL)
        host_report_record()
        return True

    def start(self) -> None:
        self.thread = report_thread(self.report_once, what="web host report")

    def close(self) -> None:
        if self.thread is not None:
            self.thread.stop(join_timeout=1)  # a round stuck in a dead dependency must not delay the exit
        self.lock.release()


_web_reporter: WebHostReporter | None = None


def web_host_report_start() -> WebHostReporter | None:
    """Called in each gunicorn worker once the app is loaded (gunicorn.conf.py's post_worker_init)."""
    global _web_reporter
    if not settings.MONITOR_WEB_HOST_REPORT or _web_reporter is not None:
        return _web_reporter
    from monitoring.runner import local_hostname

    _web_reporter = WebHostReporter(local_hostname())
    _web_reporter.start()
    return _web_reporter


def web_host_report_stop() -> None:
    """Called when a gunicorn worker exits (gunicorn.conf.py's worker_exit): stop the loop, free the lock."""
    global _web_reporter
    if _web_reporter is not None:
        reporter, _web_reporter = _web_reporter, None
        reporter.close()


def _forget_web_reporter_in_child() -> None:
    # A process forked from a gunicorn worker (multiprocessing, a bare os.fork) shares the lock's open file: it
    # must close its copy, or the lock would outlive the worker, and it runs no report thread of its own.
    global _web_reporter
    if _web_reporter is not None:
        if _web_reporter.lock.fd is not None:
            os.close(_web_reporter.lock.fd)
        _web_reporter = None


os.register_at_fork(after_in_child=_forget_web_reporter_in_child)
