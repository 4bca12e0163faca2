"""Backups on a local storage (any Django storage whose `path()` works, BackupFileSystemStorage by default).

A file is written as `<name>.partial`, fsynced and renamed on success, unlinked on failure: a reader never sees half
a file under its final name. Files are 0600 and folders 0700: backups hold every secret of the portal.

While a file is written, every WRITE_BACK_EVERY bytes the kernel is told the range just written is not needed again
(POSIX_FADV_DONTNEED): Linux starts writing it back at once and drops it from the page cache once it is on disk. So the
fsync at the end waits for the last few MiB, not for the whole file (0.09 s for 205 MB before), and a backup does not
push the database's own pages out of the page cache.
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
WRITE_BACK_EVERY = 8 << 20


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
        self._written_back = 0  # bytes before this offset were handed to the kernel's write-back

    def write(self, data: memoryview) -> None:
        self.file.write(data)
        on_disk_side = self.file.raw.tell()  # what the buffer has passed to the kernel so far
        if on_disk_side - self._written_back >= WRITE_BACK_EVERY:
            _start_write_back(self.file.fileno(), self._written_back, on_disk_side - self._written_back)
            self._written_back = on_disk_side

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


def _start_write_back(fd: int, offset: int, length: int) -> None:
    if hasattr(os, "posix_fadvise"):  # not on macOS: there the fsync does it all
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


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
