"""Backups on any other Django storage (neither local nor S3): written with `storage.open(name, "wb")`, deleted on
failure. Whether a half-written file is ever visible depends on that storage (not tested here)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.core.files.storage import Storage


def delete_listed(storage: Storage, prefix: str) -> list[str]:
    """Delete the files the storage lists under `prefix` (none if it is gone); return their names."""
    removed: list[str] = []
    with contextlib.suppress(FileNotFoundError):
        _, files = storage.listdir(prefix)
        for file_name in files:
            storage.delete(f"{prefix}/{file_name}")
            removed.append(f"{prefix}/{file_name}")
    return removed


class StorageFileUpload:
    def __init__(self, storage: Storage, name: str) -> None:
        self.storage = storage
        self.name = name
        self.file = storage.open(name, "wb")

    def write(self, data: memoryview) -> None:
        self.file.write(data)

    def commit(self) -> None:
        self.file.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()
        with contextlib.suppress(Exception):
            self.storage.delete(self.name)


class GenericBackend:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def local_path(self, name: str) -> Path | None:
        return None

    def upload(self, name: str) -> StorageFileUpload:
        return StorageFileUpload(self.storage, name)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        with self.storage.open(name, "rb") as handle:
            yield handle

    def abort_uploads(self, prefix: str) -> list[str]:
        return []

    def delete_prefix(self, prefix: str) -> list[str]:
        return delete_listed(self.storage, prefix)
