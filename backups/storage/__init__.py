"""Backup storage: any Django storage (`STORAGES["backups"]`), reached through one small protocol, `Backend`.

One module per backend:

- `filesystem.py`: a local storage (`storage.path()` works): write `<name>.partial`, fsync, rename on success, unlink
  on failure; files 0600 and folders 0700 (`BackupFileSystemStorage`, the default).
- `s3.py`: django-storages' S3Storage (any S3-compatible server): uploads streamed through boto3's managed transfer
  (s3transfer), in parts of `part_size()`; a failure aborts the upload, so no object ever appears; reads stream the
  object's body. Every S3 call is bounded (BACKUP_S3_TIMEOUT, BACKUP_S3_ATTEMPTS).
- `generic.py`: any other Django storage: `storage.open(name, "wb")`, deleted on failure.

The pipeline, restore, verify, the reaper and the catalog use the functions below (ArtifactWriter, open_stored,
sha256_of, delete_prefix, abort_uploads, local_path, write_small_file) and list through the Django storage itself
(`backup_storage().listdir()`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol

from django.core.files.storage import Storage, storages

from backups.storage.filesystem import PARTIAL_SUFFIX, BackupFileSystemStorage
from backups.storage.s3 import MAX_PARTS, part_size

__all__ = [
    "MAX_PARTS",
    "PARTIAL_SUFFIX",
    "ArtifactWriter",
    "Backend",
    "BackupFileSystemStorage",
    "Upload",
    "abort_uploads",
    "backend_for",
    "backup_storage",
    "delete_prefix",
    "local_path",
    "open_stored",
    "part_size",
    "sha256_of",
    "write_small_file",
]

CHUNK = 1 << 20


class Upload(Protocol):
    """One file being written: nothing is visible under its name before commit(); abort() leaves nothing."""

    def write(self, data: memoryview) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class Backend(Protocol):
    """What the backups need of a storage, beyond Django's Storage API (exists, size, listdir, delete)."""

    storage: Storage

    def local_path(self, name: str) -> Path | None:
        """The file's path on this machine, or None when the storage is remote."""

    def upload(self, name: str) -> Upload:
        """A streamed write of `name` (bounded memory whatever its size)."""

    def open(self, name: str) -> AbstractContextManager[BinaryIO]:
        """A streamed binary read of `name`; FileNotFoundError when it is not there."""

    def abort_uploads(self, prefix: str) -> list[str]:
        """Abort the writes left unfinished under prefix (a worker killed mid-upload); the names aborted."""

    def delete_prefix(self, prefix: str) -> list[str]:
        """Remove every file under prefix, unfinished ones included; the names removed."""


def backup_storage() -> Storage:
    storage = storages["backups"]
    if not getattr(storage, "_opsportal_bounded", False):
        from backups.storage import s3

        if s3.is_s3(storage):
            s3.bound_network_calls(storage)
        storage._opsportal_bounded = True
    return storage


def backend_for(storage: Storage) -> Backend:
    """The backend of a storage: local files, S3, or any other Django storage."""
    from backups.storage import filesystem, generic, s3

    if filesystem.is_local(storage):
        return filesystem.FileSystemBackend(storage)
    if s3.is_s3(storage):
        return s3.S3Backend(storage)
    return generic.GenericBackend(storage)


def local_path(storage: Storage, name: str) -> Path | None:
    return backend_for(storage).local_path(name)


@contextlib.contextmanager
def open_stored(storage: Storage, name: str) -> Iterator[BinaryIO]:
    """A binary readable of a stored file, streamed (FileNotFoundError if it is not there)."""
    with backend_for(storage).open(name) as handle:
        yield handle


def abort_uploads(storage: Storage, prefix: str) -> list[str]:
    """Abort the unfinished uploads under prefix (a worker killed mid-upload leaves one behind on S3)."""
    return backend_for(storage).abort_uploads(prefix) if prefix else []


def delete_prefix(storage: Storage, prefix: str) -> list[str]:
    """Remove every file under prefix (partial ones and unfinished S3 uploads included) and, locally, the folder."""
    return backend_for(storage).delete_prefix(prefix) if prefix else []


class ArtifactWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what it stores; commit() publishes it, abort() removes it."""

    def __init__(self, storage: Storage, name: str) -> None:
        super().__init__()
        self.storage = storage
        self.name = name
        self.sha256 = hashlib.sha256()
        self.bytes_written = 0
        self._upload = backend_for(storage).upload(name)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data)
        self._upload.write(view)
        self.sha256.update(view)
        self.bytes_written += len(view)
        return len(view)

    def commit(self) -> None:
        self._upload.commit()

    def abort(self) -> None:
        self._upload.abort()


def write_small_file(storage: Storage, name: str, content: bytes) -> None:
    writer = ArtifactWriter(storage, name)
    try:
        writer.write(content)
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def sha256_of(storage: Storage, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open_stored(storage, name) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
