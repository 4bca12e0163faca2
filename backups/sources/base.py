"""The contract of a backup source: one module per source, registered by kind.

A source knows how to produce one stream per configured item (`open()`), and how to put such a stream back
(`restore()`). It raises SourceError for "cannot back this up" and RestoreRefused for "will not restore this here",
both with a message an operator can act on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, ClassVar

if TYPE_CHECKING:
    from backups.models import BackupArtifact


class SourceError(Exception):
    """The source cannot be backed up (or restored) now; the message names what to fix."""


class RestoreRefused(Exception):
    """A restore will not start; raised before anything is touched."""


@dataclass
class SourceStream:
    reader: BinaryIO
    format: str
    extension: str
    metadata: dict = field(default_factory=dict)
    # Called from another thread when the run stalled: unblock the reader (end the child process producing it).
    cancel: Callable[[], None] | None = None


@dataclass
class RestoreTarget:
    """Where an artifact goes back: `into` is a database URL or None for the configured place."""

    into: str | None = None
    log: Callable[[str], None] = print


class Source:
    kind: ClassVar[str]

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"{self.kind}:{self.name}"

    @classmethod
    def configured(cls) -> list[Source]:
        """One instance per item the settings ask to back up."""
        raise NotImplementedError

    def preflight(self) -> None:
        """Checks that must pass before any file is written (tool versions, reachability)."""

    def open(self) -> contextlib.AbstractContextManager[SourceStream]:
        raise NotImplementedError

    def estimate_bytes(self) -> int | None:
        """A cheap guess of how many raw bytes `open()` will yield (for a percentage and an ETA); None if unknown.

        Called once when a run starts, after preflight; it must not do the work itself (no dump, no archive).
        """
        return None

    # --- restore -------------------------------------------------------------------------------------------------
    @classmethod
    def restore_target_label(cls, artifact: BackupArtifact, target: RestoreTarget) -> str:
        return artifact.name

    @classmethod
    def check_restore(cls, artifact: BackupArtifact, target: RestoreTarget) -> None:
        """Raise RestoreRefused if this artifact cannot go to that target."""

    @classmethod
    def restores_into_new_place(cls, artifact: BackupArtifact, target: RestoreTarget) -> bool:
        """True when nothing existing is overwritten, so no safety backup is needed."""
        return False

    @classmethod
    def has_something_to_protect(cls, artifact: BackupArtifact, target: RestoreTarget) -> bool:
        """Whether a safety backup is needed before restoring: something exists that the restore replaces."""
        return not cls.restores_into_new_place(artifact, target)

    @classmethod
    def restore(cls, artifact: BackupArtifact, reader: BinaryIO, target: RestoreTarget) -> None:
        raise NotImplementedError


@contextlib.contextmanager
def nothing_to_clean() -> Iterator[None]:
    yield
