"""Removing a failed run's files: bounded in time, never raising, so a storage that stopped answering cannot hold a
failure back from being recorded (the journal retries what could not be done)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.storage import Storage
from django.utils.translation import gettext as _

from backups.storage import delete_prefix

logger = logging.getLogger("backups")


@dataclass
class Cleanup:
    """What remove_run_files did: the files removed, and what it could not do (empty when the folder is gone)."""

    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems


def remove_run_files(storage: Storage | None, prefix: str, *, timeout: float | None = None) -> Cleanup:
    """delete_prefix, bounded in time (BACKUP_CLEANUP_TIMEOUT) and never raising: problems are logged and returned.

    It runs in a thread of its own: a storage that hangs past its own timeouts leaves that thread behind, not the
    caller, which goes on to record the failure. The journal keeps the cleanup for a later retry.
    """
    outcome = Cleanup()
    if storage is None or not prefix:
        return outcome
    limit = settings.BACKUP_CLEANUP_TIMEOUT.total_seconds() if timeout is None else timeout
    done = threading.Event()

    def remove() -> None:
        try:
            outcome.removed += delete_prefix(storage, prefix)
        except Exception as exc:
            outcome.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            done.set()

    threading.Thread(target=remove, name=f"cleanup-{prefix}", daemon=True).start()
    if not done.wait(limit):
        outcome.problems.append(_("not finished after %(seconds)s s") % {"seconds": f"{limit:g}"})
    for problem in outcome.problems:
        logger.warning("could not remove the files under %s: %s", prefix, problem)
    # The thread may still append after a timeout; the caller gets what was known when it stopped waiting.
    return Cleanup(removed=list(outcome.removed), problems=list(outcome.problems))
