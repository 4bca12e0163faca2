"""Backup storage: any Django storage (`STORAGES["backups"]`), written through ArtifactWriter.

A local storage gets the strict path: write `<name>.partial`, fsync, rename on success, unlink on failure, files 0600
and folders 0700. A remote storage (S3, ...) gets `storage.open(name, "wb")`, whose object only appears when the
upload completes, and is deleted on failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from pathlib import Path
from typing import BinaryIO

from django.core.files.storage import FileSystemStorage, Storage, storages

PARTIAL_SUFFIX = ".partial"


class BackupFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose files are 0600 and folders 0700: backups hold every secret of the portal."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        super().__init__(**kwargs)


def backup_storage() -> Storage:
    return storages["backups"]


def local_path(storage: Storage, name: str) -> Path | None:
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


def _make_private_dirs(path: Path, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if not current.is_dir():
            current.mkdir(mode=0o700)
            os.chmod(current, 0o700)  # mkdir's mode is masked by the umask


class ArtifactWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what it stores; commit() publishes it, abort() removes it."""

    def __init__(self, storage: Storage, name: str) -> None:
        super().__init__()
        self.storage = storage
        self.name = name
        self.sha256 = hashlib.sha256()
        self.bytes_written = 0
        self._final: Path | None = local_path(storage, name)
        self._partial: Path | None = None
        self._remote: BinaryIO | None = None
        if self._final is not None:
            root = Path(storage.path(""))
            _make_private_dirs(self._final.parent, root)
            self._partial = self._final.with_name(self._final.name + PARTIAL_SUFFIX)
            fd = os.open(self._partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._file: BinaryIO = os.fdopen(fd, "wb", buffering=1 << 20)
        else:
            self._file = storage.open(name, "wb")

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data)
        self._file.write(view)
        self.sha256.update(view)
        self.bytes_written += len(view)
        return len(view)

    def commit(self) -> None:
        if self._partial is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._partial, self._final)
        else:
            self._file.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()
        if self._partial is not None:
            with contextlib.suppress(FileNotFoundError):
                self._partial.unlink()
        else:
            with contextlib.suppress(Exception):
                self.storage.delete(self.name)


def write_small_file(storage: Storage, name: str, content: bytes) -> None:
    writer = ArtifactWriter(storage, name)
    try:
        writer.write(content)
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def delete_prefix(storage: Storage, prefix: str) -> list[str]:
    """Remove every file under prefix (partial ones included) and, locally, the folder itself."""
    removed: list[str] = []
    if not prefix:
        return removed
    path = local_path(storage, prefix)
    if path is not None:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                child.unlink(missing_ok=True)
                removed.append(f"{prefix}/{child.name}")
            with contextlib.suppress(OSError):
                path.rmdir()
        return removed
    with contextlib.suppress(FileNotFoundError):
        _, files = storage.listdir(prefix)
        for file_name in files:
            storage.delete(f"{prefix}/{file_name}")
            removed.append(f"{prefix}/{file_name}")
    return removed


def sha256_of(storage: Storage, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with storage.open(name, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
