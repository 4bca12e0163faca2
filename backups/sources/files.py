"""Files listed in BACKUP_FILES (the project's .env by default): small, and full of secrets.

Restore writes `.<name>.restoring` beside the file first, and only when it holds exactly the recorded `raw_bytes` (and
is on disk) keeps the file it replaces as `<name>.before-restore-<timestamp>` and renames the new one into place;
both are mode 0600. A stream that fails, is short, or runs past `raw_bytes` (the reader stops it) leaves the real
file as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from backups.models import BackupArtifact
from backups.sources import register
from backups.sources.base import RestoreRefused, RestoreTarget, Source, SourceError, SourceStream


@register
class FileSource(Source):
    kind = "file"

    @classmethod
    def configured(cls) -> list[Source]:
        return [cls(str(Path(path).resolve())) for path in settings.BACKUP_FILES]

    def preflight(self) -> None:
        path = Path(self.name)
        if path.is_dir():
            raise SourceError(_("BACKUP_FILES lists %(path)s, which is a folder; list files.") % {"path": path})
        if not path.exists():
            raise SourceError(_("BACKUP_FILES lists %(path)s, which does not exist.") % {"path": path})

    def estimate_bytes(self) -> int | None:
        try:
            info = os.stat(self.name)
        except OSError:
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None  # a pipe or device has no size to go by

    @contextlib.contextmanager
    def open(self) -> Iterator[SourceStream]:
        try:
            handle = open(self.name, "rb")  # noqa: SIM115 (closed below, after the pipeline has read it)
        except OSError as exc:
            raise SourceError(f"{self.name}: {exc.strerror}") from None
        with handle:
            mode = os.stat(handle.fileno()).st_mode & 0o777
            yield SourceStream(reader=handle, format="file", extension="file", metadata={"mode": oct(mode)})

    @classmethod
    def check_restore(cls, artifact: BackupArtifact, target: RestoreTarget) -> None:
        if target.into:
            raise RestoreRefused(_("--into applies to databases only; restore files with --only file:PATH."))
        # The name comes from the manifest: only a file this portal is configured to back up may be overwritten.
        if artifact.name not in {source.name for source in cls.configured()}:
            raise RestoreRefused(
                _("Refusing to restore %(path)s: it is not one of BACKUP_FILES.") % {"path": artifact.name}
            )
        if not Path(artifact.name).parent.is_dir():
            raise RestoreRefused(_("The folder of %(path)s does not exist.") % {"path": artifact.name})

    @classmethod
    def has_something_to_protect(cls, artifact: BackupArtifact, target: RestoreTarget) -> bool:
        return False  # the replaced file is kept beside it as <name>.before-restore-<timestamp>

    @classmethod
    def restore(cls, artifact: BackupArtifact, reader: BinaryIO, target: RestoreTarget) -> None:
        path = Path(artifact.name)
        incoming = path.with_name(f".{path.name}.restoring")
        fd = os.open(incoming, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(reader, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
                written = out.tell()
            if written != artifact.raw_bytes:
                raise SourceError(
                    _("%(path)s: the backup holds %(written)s bytes, %(expected)s were recorded; nothing was replaced.")
                    % {"path": path, "written": written, "expected": artifact.raw_bytes}
                )
            if path.exists():
                kept = path.with_name(f"{path.name}.before-restore-{timezone.now():%Y%m%dT%H%M%SZ}")
                os.replace(path, kept)
                os.chmod(kept, 0o600)
                target.log(f"kept the previous {path} as {kept}")
            os.replace(incoming, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                incoming.unlink()
        target.log(f"restored {path}")
