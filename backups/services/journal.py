"""The failure journal: what a failing backup could not finish writing, kept on this host until it can be.

When a run fails while the database does not answer (PostgreSQL killed mid-dump, and it holds the catalog), or
while its files cannot be removed (S3 stopped answering), the outcome is written here: one small JSON file per run
under VAR_DIR/backup-journal (0600, in a 0700 folder, written atomically). journal_replay() writes the failure to
the catalog, removes what is left of the files and announces `backup_failed`, as soon as it can: at the next backup
attempt, on every reaper tick and when a worker starts. The entry is removed once both are done.

The journal is local to the host that failed: a run failed on another host is replayed there (or reaped by the
heartbeat, BACKUP_STALE_AFTER).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from opsportal.lib.files import write_json_durably

logger = logging.getLogger("backups")

FOLDER_NAME = "backup-journal"


@dataclass
class JournalEntry:
    run_id: int
    uuid: str
    error: str
    source: str
    log: str
    bytes_done: int
    finished_at: str  # ISO 8601
    storage_prefix: str
    recorded: bool  # the failure is in the catalog
    cleaned: bool  # the run's files are gone

    @property
    def path(self) -> Path:
        return journal_folder() / f"run-{self.run_id}-{self.uuid}.json"


def journal_folder() -> Path:
    return Path(settings.VAR_DIR) / FOLDER_NAME


def journal_write(entry: JournalEntry) -> Path:
    """Write (or replace) the entry atomically; it holds scrubbed error text and the run's log, so 0600."""
    folder = journal_folder()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return write_json_durably(entry.path, asdict(entry))


def journal_entries() -> list[JournalEntry]:
    folder = journal_folder()
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("run-*.json")):
        try:
            entries.append(JournalEntry(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError) as exc:
            logger.error("unreadable backup journal entry %s: %s", path, exc)
    return entries


def journal_cause(run_id: int, uuid: str) -> JournalEntry | None:
    """The failure this host recorded for a run, if it is still in the journal."""
    return next((e for e in journal_entries() if e.run_id == run_id and e.uuid == uuid), None)


def journal_replay(*, cleanup: bool = True) -> list[int]:
    """Write every pending failure to the catalog and finish every pending cleanup; return the runs completed.

    Never raises: a database that still does not answer leaves the entries for the next call. `cleanup=False`
    (a new backup being created, maybe in a web request) writes failures only: removing files from a storage that
    stopped answering may take BACKUP_CLEANUP_TIMEOUT, which is the reaper's and a starting worker's to spend.
    """
    from backups.models import BackupArtifact, BackupRun
    from backups.services.failure import announce_failure, remove_files_of

    completed = []
    for entry in journal_entries():
        try:
            run = BackupRun.objects.filter(pk=entry.run_id, uuid=entry.uuid).first()
            if not entry.recorded:
                finished_at = parse_datetime(entry.finished_at) or timezone.now()
                fields = {"status": BackupRun.Status.FAILED, "finished_at": finished_at, "error": entry.error,
                          "current_artifact": "", "bytes_done": entry.bytes_done, "log": entry.log}
                active = BackupRun.objects.filter(
                    pk=entry.run_id, uuid=entry.uuid, status__in=[BackupRun.Status.QUEUED, BackupRun.Status.RUNNING]
                )
                claimed = active.update(**fields)
                if not claimed:
                    # The reaper on another host (or the heartbeat) failed it meanwhile, without knowing why: the
                    # cause recorded here, by the process that saw it, is the one to keep.
                    BackupRun.objects.filter(
                        pk=entry.run_id, uuid=entry.uuid, status=BackupRun.Status.FAILED
                    ).update(error=entry.error, log=entry.log)
                BackupArtifact.objects.filter(run_id=entry.run_id).delete()
                entry.recorded = True
                journal_write(entry)
                if claimed and run is not None:
                    run.refresh_from_db()
                    announce_failure(run, source=entry.source)
        except DatabaseError as exc:
            logger.warning("backup journal: the database does not answer yet (%s); run %s stays journalled",
                           exc, entry.run_id)
            with contextlib.suppress(Exception):
                connection.close()
            return completed
        if not entry.cleaned:
            if not cleanup or not remove_files_of(entry.storage_prefix).complete:
                continue
            entry.cleaned = True
        with contextlib.suppress(FileNotFoundError):
            entry.path.unlink()
        logger.info("backup journal: run %s written to the catalog and its files removed", entry.run_id)
        completed.append(entry.run_id)
    return completed
