"""Heartbeat and progress of a running backup or restore, written every BACKUP_PROGRESS_EVERY from a small thread.

A thread (not the streaming loop) writes them, so the heartbeat keeps beating while pg_dump waits on a lock. A
heartbeat proves the thread lives, not that work moves: the same thread is the stall watchdog. When the byte count
has not moved for BACKUP_STALL_AFTER it calls `on_stall("stalled at N bytes for T")` once and stops beating; from
then on the streaming loop's next chunk raises Cancelled, so a backup that wakes up again does not go on.

Progress counts raw bytes: what the sources yield before zstd (a backup), what is put back after decompression (a
restore). The estimate it is compared with is raw too: the sources' own size guesses taken when a backup starts
(`sources_estimate`), the artifacts' recorded `raw_bytes` for a restore. `progress_figures` turns the pair into a
percentage (never 100 before the end: the estimate is a guess) and an ETA from the rate observed so far.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from backups import postgres
from backups.models import BackupRun, RestoreRun
from backups.sources import Source, parse_selector
from opsportal.lib.periodic import PeriodicThread

logger = logging.getLogger("backups")


class Cancelled(Exception):
    """The run was failed while its stream still ran (it stalled): the stream stops at its next chunk."""


def stall_message(bytes_done: int, seconds: float) -> str:
    return _("stalled at %(bytes)s bytes for %(seconds)s s") % {"bytes": bytes_done, "seconds": f"{seconds:.0f}"}


@dataclass(frozen=True)
class Figures:
    done: int
    total: int | None  # the estimate; None when unknown
    percent: int | None  # None when there is no estimate
    eta_seconds: float | None  # None when it cannot be told (no estimate, no rate yet, past the estimate, finished)


def progress_figures(*, done: int, total: int | None, elapsed: float | None, finished: bool = False) -> Figures:
    """Percent of `total` (at most 99 until `finished`) and the time left at the rate seen over `elapsed` seconds."""
    if not total or total <= 0:
        return Figures(done, None, None, None)
    if finished:
        return Figures(done, total, 100, None)
    percent = min(99, int(done * 100 / total))
    eta = None
    if done > 0 and elapsed and elapsed > 0 and done < total:
        eta = (total - done) / (done / elapsed)
    return Figures(done, total, percent, eta)


def _database_estimate(db: dict) -> int | None:
    if db["ENGINE"] == "django.db.backends.postgresql":
        return postgres.database_data_size(db)
    try:
        return os.stat(db["NAME"]).st_size  # SQLite: the file (the online copy that is read is about as large)
    except (OSError, TypeError):
        return None


def source_estimate(source: Source) -> int | None:
    """The source's guess of its raw size; None when it cannot tell or guessing fails (never fails the backup)."""
    try:
        estimate = source.estimate_bytes()
        if estimate is None and source.kind == "database":
            # DatabaseSource (being rewritten elsewhere) has no estimate_bytes of its own yet: see _database_estimate.
            estimate = _database_estimate(source.db)  # type: ignore[attr-defined]
    except Exception:
        logger.warning("could not estimate the size of %r", source, exc_info=True)
        return None
    return int(estimate) if estimate is not None and estimate >= 0 else None


def sources_estimate(sources: Iterable[Source]) -> int | None:
    """The sum of the sources' estimates, over those that could tell; None when none could."""
    known = [estimate for estimate in map(source_estimate, sources) if estimate is not None]
    return sum(known) if known else None


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
        self.estimated: int | None = None  # raw bytes expected (sources_estimate), set once when the run starts
        self.started = time.monotonic()
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

    def figures(self, *, finished: bool = False) -> Figures:
        return progress_figures(done=self.bytes_done, total=self.estimated,
                                elapsed=time.monotonic() - self.started, finished=finished)

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


class _BytesHeartbeat:
    """A periodic beat that writes a byte count (a restore's, a drill's) and tells the CLI's bar after each beat."""

    def __init__(self, *, bytes_total: int | None, name: str, error_message: str,
                 on_flush: Callable | None = None) -> None:
        self.bytes_done = 0
        self.bytes_total = bytes_total
        self.started = time.monotonic()
        self.finished = False
        self.on_flush = on_flush  # the CLI's bar: told after each beat, from the heartbeat's thread
        # A failed beat (e.g. the restored catalog is being swapped in) is logged; the next beat retries.
        self._beat = PeriodicThread(self.flush, every=settings.BACKUP_PROGRESS_EVERY.total_seconds(), name=name,
                                    error_message=error_message, logger=logger, hold_connection=True)

    def add(self, count: int) -> None:
        self.bytes_done += count

    def figures(self, *, finished: bool = False) -> Figures:
        return progress_figures(done=self.bytes_done, total=self.bytes_total,
                                elapsed=time.monotonic() - self.started, finished=finished or self.finished)

    def flush(self) -> None:
        raise NotImplementedError


class RestoreHeartbeat(_BytesHeartbeat):
    """Beats for a running restore, so the reaper can tell a lost worker from a long restore; carries its progress.

    The restore passes `add` as `on_bytes` to `decoded()`, so the raw bytes put back are counted and written with
    each beat. `bytes_total` is the recorded raw size of the artifacts restored: given by `expect()`, or else read
    once from the row (the restored backup's artifacts matching its `only`).
    """

    def __init__(self, restore_id: int, *, on_flush: Callable[[RestoreHeartbeat], None] | None = None) -> None:
        super().__init__(bytes_total=None, name=f"restore-{restore_id}-heartbeat",
                         error_message=f"restore {restore_id}: heartbeat failed", on_flush=on_flush)
        self.restore_id = restore_id
        self._total_read = False

    def expect(self, total: int | None) -> None:
        self.bytes_total, self._total_read = total, True

    def start(self) -> None:
        self._beat.start()

    def stop(self) -> None:
        self._beat.stop(join_timeout=30)
        with contextlib.suppress(Exception):  # the outcome is written by the restore itself; this is the last count
            self.flush()

    def _total_from_row(self) -> int | None:
        restore = RestoreRun.objects.filter(pk=self.restore_id).select_related("source_run").first()
        if restore is None or restore.source_run is None or restore.kind != BackupRun.Kind.LOGICAL:
            return None
        artifacts = list(restore.source_run.artifacts.all())
        if restore.only:
            kind, name = parse_selector(restore.only)
            artifacts = [a for a in artifacts if a.kind == kind and (name is None or a.name == name)]
        return sum(a.raw_bytes for a in artifacts) or None

    def flush(self) -> None:
        if not self._total_read and self.bytes_done:  # once bytes flow: a restore that counts none shows none
            self.bytes_total, self._total_read = self._total_from_row(), True
        fields = {"heartbeat_at": timezone.now(), "bytes_done": self.bytes_done}
        if self.bytes_total is not None:
            fields["bytes_total"] = self.bytes_total
        RestoreRun.objects.filter(pk=self.restore_id, status=RestoreRun.Status.RUNNING).update(**fields)
        if self.on_flush is not None:
            self.on_flush(self)


class DrillHeartbeat(_BytesHeartbeat):
    """Beats for a running restore drill, on its backup's row: raw bytes decoded so far against `bytes_total`.

    `start()` marks the drill running (drill_started_at, drill_heartbeat_at), each beat writes the count, `stop()`
    writes the last count and clears drill_heartbeat_at: the pages show a drill as running only while it beats.
    """

    def __init__(self, run_id: int, bytes_total: int | None, *,
                 on_flush: Callable[[DrillHeartbeat], None] | None = None) -> None:
        super().__init__(bytes_total=bytes_total, name=f"drill-{run_id}-heartbeat",
                         error_message=f"restore drill of backup run {run_id}: heartbeat failed", on_flush=on_flush)
        self.run_id = run_id

    def start(self) -> None:
        now = timezone.now()
        BackupRun.objects.filter(pk=self.run_id).update(
            drill_started_at=now, drill_heartbeat_at=now, drill_bytes_done=0, drill_bytes_total=self.bytes_total
        )
        self._beat.start()

    def stop(self) -> None:
        self._beat.stop(join_timeout=30)
        self.finished = True
        with contextlib.suppress(Exception):  # the outcome is written by the drill itself; this is the last count
            BackupRun.objects.filter(pk=self.run_id).update(drill_heartbeat_at=None, drill_bytes_done=self.bytes_done)
        if self.on_flush is not None:
            self.on_flush(self)

    def flush(self) -> None:
        BackupRun.objects.filter(pk=self.run_id, drill_heartbeat_at__isnull=False).update(
            drill_heartbeat_at=timezone.now(), drill_bytes_done=self.bytes_done
        )
        if self.on_flush is not None:
            self.on_flush(self)
