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
from django.utils import timezone
from django.utils.translation import gettext as _

from backups.models import BackupRun, RestoreRun
from opsportal.lib.periodic import PeriodicThread

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
        self._lock = threading.Lock()
        self._seen, self._moved_at = 0, 0.0
        # Keeps its connection between beats (every few seconds); a failed beat closes it and the next one retries.
        self._beat = PeriodicThread(
            self._beat_once,
            every=settings.BACKUP_PROGRESS_EVERY.total_seconds(),
            name=f"backup-{run_id}-heartbeat",
            error_message=f"backup run {run_id}: heartbeat failed",
            logger=logger,
            hold_connection=True,
        )

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
        self._seen, self._moved_at = self.bytes_done, time.monotonic()
        self._beat.start()

    def stop(self) -> None:
        self._beat.stop(join_timeout=30)
        if self.on_flush is not None:
            self.on_flush(self)

    def flush(self) -> None:
        with self._lock:
            BackupRun.objects.filter(pk=self.run_id, status=BackupRun.Status.RUNNING).update(
                heartbeat_at=timezone.now(), bytes_done=self.bytes_done, current_artifact=self.current, log=self.text
            )
        if self.on_flush is not None:
            self.on_flush(self)

    def _beat_once(self) -> None:
        now = time.monotonic()
        if self.bytes_done != self._seen:
            self._seen, self._moved_at = self.bytes_done, now
        elif self.on_stall is not None and now - self._moved_at >= settings.BACKUP_STALL_AFTER.total_seconds():
            self._beat.stop_event.set()  # the watchdog fires once and the heartbeat stops
            self._stalled(stall_message(self._seen, now - self._moved_at))
            return
        self.flush()  # a database hiccup is logged by the loop and must not kill the backup; the next beat retries

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
        # A failed beat (e.g. the restored catalog is being swapped in) is logged; the next beat retries.
        self._beat = PeriodicThread(
            self._beat_once,
            every=settings.BACKUP_PROGRESS_EVERY.total_seconds(),
            name=f"restore-{restore_id}-heartbeat",
            error_message=f"restore {restore_id}: heartbeat failed",
            logger=logger,
            hold_connection=True,
        )

    def start(self) -> None:
        self._beat.start()

    def stop(self) -> None:
        self._beat.stop(join_timeout=30)

    def _beat_once(self) -> None:
        RestoreRun.objects.filter(pk=self.restore_id, status=RestoreRun.Status.RUNNING).update(
            heartbeat_at=timezone.now()
        )
