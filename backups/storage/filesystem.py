"""Backups on a local storage (any Django storage whose `path()` works, BackupFileSystemStorage by default).

A file is written as `<name>.partial`, fsynced and renamed on success, unlinked on failure: a reader never sees half
a file under its final name. Files are 0600 and folders 0700: backups hold every secret of the portal.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.core.files.storage import FileSystemStorage, Storage

PARTIAL_SUFFIX = ".partial"
BUFFER = 1 << 20


class BackupFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose files are 0600 and folders 0700: backups hold every secret of the portal."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        super().__init__(**kwargs)


def is_local(storage: Storage) -> bool:
    try:
        storage.path("")
    except NotImplementedError:
        return False
    return True


def _make_private_dirs(path: Path, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if not current.is_dir():
            current.mkdir(mode=0o700)
            os.chmod(current, 0o700)  # mkdir's mode is masked by the umask


class PartialFileUpload:
    """`<name>.partial`, 0600 in folders 0700; commit() fsyncs and renames it to `<name>`, abort() unlinks it."""

    def __init__(self, storage: Storage, name: str) -> None:
        self.final = Path(storage.path(name))
        _make_private_dirs(self.final.parent, Path(storage.path("")))
        self.partial = self.final.with_name(self.final.name + PARTIAL_SUFFIX)
        fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.file: BinaryIO = os.fdopen(fd, "wb", buffering=BUFFER)

    def write(self, data: memoryview) -> None:
        self.file.write(data)

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.partial, self.final)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()


class FileSystemBackend:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def local_path(self, name: str) -> Path:
        return Path(self.storage.path(name))

    def upload(self, name: str) -> PartialFileUpload:
        return PartialFileUpload(self.storage, name)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        with self.storage.open(name, "rb") as handle:
            yield handle

    def abort_uploads(self, prefix: str) -> list[str]:
        return []  # a partial file is removed with its folder (delete_prefix)

    def delete_prefix(self, prefix: str) -> list[str]:
        removed: list[str] = []
        path = self.local_path(prefix)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                child.unlink(missing_ok=True)
                removed.append(f"{prefix}/{child.name}")
            with contextlib.suppress(OSError):
                path.rmdir()
        return removed
