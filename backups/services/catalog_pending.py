"""A re-index owed after restoring the portal's own database, finished by the next reaper tick or worker start.

pg_restore commits the portal's data in its own transaction; re-indexing the catalog from storage follows in
another. A worker killed between the two would leave the catalog as it was at backup time (runs made since missing,
verifications and restores gone) until someone ran `backup --reindex`. So the restore leaves a marker on this host
(VAR_DIR/catalog-reindex-pending, with its pid) before it touches the data and removes it once the catalog is
re-indexed; a reaper tick or worker start that finds the marker of a process that is gone re-indexes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from opsportal.lib.files import write_json_durably
from opsportal.lib.hostname import host_name

if TYPE_CHECKING:
    from backups.services.catalog import CatalogReindex

logger = logging.getLogger("backups")

MARKER_NAME = "catalog-reindex-pending"


def marker_path() -> Path:
    return Path(settings.VAR_DIR) / MARKER_NAME


def catalog_reindex_owed(*, restore_id: int | None, owner_done: bool = False) -> None:
    """Record, before the portal database is restored, that a re-index must follow (atomic write, 0600).

    owner_done: the restore ended but could not re-index (storage unreadable), so the next tick must not wait for
    its process to be gone.
    """
    write_json_durably(marker_path(), {"host": host_name(), "pid": None if owner_done else os.getpid(),
                                       "since": timezone.now().isoformat(), "restore_id": restore_id})


def catalog_reindex_paid() -> None:
    with contextlib.suppress(FileNotFoundError):
        marker_path().unlink()


def catalog_reindex_if_owed() -> CatalogReindex | None:
    """Re-index when a restore of the portal database on this host ended without doing it; the report, or None."""
    from backups.services.catalog import backup_catalog_reindex
    from backups.services.reaper import worker_process_gone

    path = marker_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        data = {}  # a torn marker: its writer is gone too (the write is atomic, so only by hand)
    pid = data.get("pid")
    if pid and not worker_process_gone(
        host=data.get("host", ""), pid=pid, started_at=parse_datetime(data.get("since") or "")
    ):
        return None  # the restore is still running: it re-indexes itself
    try:
        report = backup_catalog_reindex()
    except Exception as exc:  # the storage does not answer: the marker stays, the next tick tries again
        logger.warning("the catalog re-index owed since a restore of the portal database failed again: %s", exc)
        return None
    logger.warning("catalog re-indexed from storage after an interrupted restore of the portal database: "
                   "%s run(s), %s skipped", len(report.runs), len(report.skipped))
    catalog_reindex_paid()
    return report
