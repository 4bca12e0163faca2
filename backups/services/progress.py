"""Heartbeat and progress of a running backup, written every BACKUP_PROGRESS_EVERY from a small thread.

A thread (not the streaming loop) writes them, so the heartbeat keeps beating while pg_dump waits on a lock. A
heartbeat proves the thread lives, not that work moves: the same thread is the stall watchdog. When the byte count
has not moved for BACKUP_STALL_AFTER it calls `on_stall("stalled at N bytes for T")` once and stops beating; from
then on the streaming loop's next chunk raises Cancelled, so a backup that wakes up again does not go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from backups.models import BackupRun, RestoreRun

logger = logging.getLogger("backups")


class Cancelled(Exception):
    """The run was failed while its stream still ran (it stalled): the stream stops at its next chunk."""


def stall_message(bytes_done: int, seconds: float) -> str:
    return _("stalled at %(bytes)s bytes for %(seconds)s s") % {"bytes": bytes_done, "seconds": f"{seconds:.0f}"}


class Progress:
    def __init__(
        self,
        run_id: int,
        *,
        on_flush: Callable[[Progress], None] | None = None,
        on_stall: Callable[[str], None] | None = None,
    ) -> None:
        self.run_id = run_id
        self.bytes_done = 0
        self.current = ""
        self.lines: list[str] = []
        self.on_flush = on_flush
        self.on_stall = on_stall
        self.cancelled = ""  # why the stream must stop (set once the run was failed under it)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=f"backup-{run_id}-heartbeat", daemon=True)

    def add(self, count: int) -> None:
        if self.cancelled:
            raise Cancelled(self.cancelled)
        self.bytes_done += count

    def log(self, line: str) -> None:
        logger.info("backup run %s: %s", self.run_id, line)
        self.lines.append(f"{timezone.now():%Y-%m-%d %H:%M:%S} {line}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        if self.on_flush is not None:
            self.on_flush(self)

    def flush(self) -> None:
        with self._lock:
            BackupRun.objects.filter(pk=self.run_id, status=BackupRun.Status.RUNNING).update(
                heartbeat_at=timezone.now(), bytes_done=self.bytes_done, current_artifact=self.current, log=self.text
            )
        if self.on_flush is not None:
            self.on_flush(self)

    def _loop(self) -> None:
        every = settings.BACKUP_PROGRESS_EVERY.total_seconds()
        seen, moved_at = self.bytes_done, time.monotonic()
        try:
            while not self._stop.wait(every):
                now = time.monotonic()
                if self.bytes_done != seen:
                    seen, moved_at = self.bytes_done, now
                elif self.on_stall is not None and now - moved_at >= settings.BACKUP_STALL_AFTER.total_seconds():
                    self._stalled(stall_message(seen, now - moved_at))
                    return
                try:
                    self.flush()
                except Exception:  # a database hiccup must not kill the backup; the next beat retries
                    logger.exception("backup run %s: heartbeat failed", self.run_id)
                    connection.close()
        finally:
            connection.close()

    def _stalled(self, message: str) -> None:
        self.log(message)
        try:
            self.on_stall(message)
        except Exception:  # the watchdog must end; the streaming thread's own failure path follows
            logger.exception("backup run %s: failing the stalled run failed", self.run_id)


class RestoreHeartbeat:
    """Beats for a running restore, so the reaper can tell a lost worker from a long restore."""

    def __init__(self, restore_id: int) -> None:
        self.restore_id = restore_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"restore-{restore_id}-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        every = settings.BACKUP_PROGRESS_EVERY.total_seconds()
        try:
            while not self._stop.wait(every):
                try:
                    RestoreRun.objects.filter(pk=self.restore_id, status=RestoreRun.Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # e.g. the restored catalog is being swapped in; the next beat retries
                    logger.exception("restore %s: heartbeat failed", self.restore_id)
                    connection.close()
        finally:
            connection.close()
