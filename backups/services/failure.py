"""Ending a backup run as failed, whatever else is failing at that moment.

The first error is the run's error: nothing that goes wrong afterwards (removing its files from a storage that
stopped answering, a database that is down, a receiver of `backup_failed` that raises) replaces it or escapes.
Files are removed within BACKUP_CLEANUP_TIMEOUT; the failure is written to the catalog, or to the journal when the
database does not answer; `backup_failed` is sent robustly, once, by whoever wrote the failure.
"""

from __future__ import annotations

import contextlib
import logging
import signal

from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.translation import gettext as _

from backups.cleanup import Cleanup, remove_run_files
from backups.models import BackupArtifact, BackupRun
from backups.services.journal import JournalEntry, journal_write
from backups.signals import BackupFailure, backup_failed
from backups.storage import backup_storage

logger = logging.getLogger("backups")

ACTIVE = (BackupRun.Status.QUEUED, BackupRun.Status.RUNNING)


class BackupInterrupted(BaseException):
    """SIGINT or SIGTERM arrived while a backup ran in this process (a BaseException, as KeyboardInterrupt is)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def describe_exception(exc: BaseException) -> str:
    """The message a run records for what ended it; interruptions name their signal."""
    if isinstance(exc, BackupInterrupted):
        return _("interrupted by %(signal)s") % {"signal": signal.Signals(exc.signum).name}
    if isinstance(exc, KeyboardInterrupt):
        return _("interrupted by %(signal)s") % {"signal": "SIGINT"}
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else None
        # billiard's pool child exits with -(256 - signum) when it receives a termination signal
        if code is not None and -255 <= code < 0 and (256 + code) in signal.valid_signals():
            return _("interrupted by %(signal)s") % {"signal": signal.Signals(256 + code).name}
        return _("the process was told to exit (%(code)s)") % {"code": exc.code}
    return str(exc) or type(exc).__name__


def announce_failure(run: BackupRun, *, source: str = "") -> None:
    """Send `backup_failed` with its typed payload; a receiver that raises is logged, never propagated."""
    # send_robust logs a receiver's exception with its traceback (logger django.dispatch) and goes on to the next.
    backup_failed.send_robust(sender=BackupRun, failure=BackupFailure.of(run, source=source))


def remove_files_of(prefix: str) -> Cleanup:
    """remove_run_files on the backup storage; a storage that cannot even be opened is a problem, not an error."""
    if not prefix:
        return Cleanup()
    try:
        storage = backup_storage()
    except Exception as exc:
        logger.warning("could not open the backup storage to remove %s: %s", prefix, exc)
        return Cleanup(problems=[str(exc)])
    return remove_run_files(storage, prefix)


def backup_run_fail(
    *,
    run: BackupRun,
    error: str,
    source: str = "",
    lines: list[str] | None = None,
    bytes_done: int = 0,
    remove_files: bool = True,
) -> bool:
    """Remove the run's files, mark it failed with `error` and announce it; True if this call failed it.

    A run no longer queued or running is left as it is (the first failure stands). When the database does not
    answer, the failure is journalled (VAR_DIR/backup-journal) and written when it answers again.
    """
    lines = lines if lines is not None else []
    cleanup = remove_files_of(run.storage_prefix) if remove_files else Cleanup()
    if cleanup.removed:
        lines.append(f"{timezone.now():%Y-%m-%d %H:%M:%S} removed {len(cleanup.removed)} file(s) of this run")
    for problem in cleanup.problems:
        lines.append(f"{timezone.now():%Y-%m-%d %H:%M:%S} could not remove the files of this run: {problem}")
    finished_at = timezone.now()
    log = "\n".join(lines)
    try:
        claimed = _write_failure(run, error=error, log=log, bytes_done=bytes_done, finished_at=finished_at)
    except DatabaseError as exc:
        path = journal_write(JournalEntry(
            run_id=run.pk, uuid=str(run.uuid), error=error, source=source, log=log, bytes_done=bytes_done,
            finished_at=finished_at.isoformat(), storage_prefix=run.storage_prefix, recorded=False,
            cleaned=cleanup.complete,
        ))
        logger.error("backup run %s failed (%s) and the database does not answer (%s): kept in %s until it does",
                     run.pk, error, exc, path)
        return False
    if not cleanup.complete:
        journal_write(JournalEntry(
            run_id=run.pk, uuid=str(run.uuid), error=error, source=source, log=log, bytes_done=bytes_done,
            finished_at=finished_at.isoformat(), storage_prefix=run.storage_prefix, recorded=True, cleaned=False,
        ))
    if claimed:
        run.refresh_from_db()
        announce_failure(run, source=source)
    return bool(claimed)


def _write_failure(run: BackupRun, *, error: str, log: str, bytes_done: int, finished_at) -> int:
    """The conditional update, tried twice: the first attempt may meet a connection the server already closed."""
    for attempt in (1, 2):
        try:
            claimed = BackupRun.objects.filter(pk=run.pk, status__in=ACTIVE).update(
                status=BackupRun.Status.FAILED, finished_at=finished_at, error=error, current_artifact="",
                bytes_done=bytes_done, log=log,
            )
            BackupArtifact.objects.filter(run=run).delete()
            return claimed
        except DatabaseError:
            with contextlib.suppress(Exception):
                connection.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
