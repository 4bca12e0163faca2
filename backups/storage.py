"""Backup storage: any Django storage (`STORAGES["backups"]`), written through ArtifactWriter.

A local storage gets the strict path: write `<name>.partial`, fsync, rename on success, unlink on failure, files 0600
and folders 0700.

S3 (django-storages' S3Storage, any S3-compatible server) gets its own streaming path, because S3Storage's file
object does not fit a backup: closing it after a failure *completes* the upload (a truncated object, or an empty one,
appears and must be deleted again, which leaves versions behind in a versioned bucket), and reading downloads the
whole object into memory before the first byte is returned. Here an artifact is uploaded in parts of part_size() (one
PUT when smaller), so memory is about one part whatever the size; a failure aborts the multipart upload, so no
object ever appears; reads stream the object's body in 1 MiB chunks.

Any other storage gets `storage.open(name, "wb")` and is deleted on failure (not tested here).

Every call to S3 is bounded: connect and read timeouts of BACKUP_S3_TIMEOUT and BACKUP_S3_ATTEMPTS attempts
(botocore's standard retry mode), applied to the storage whatever its options say. Removing a failed run's files
is bounded too (backups/cleanup.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.utils.translation import gettext as _

logger = logging.getLogger("backups")

PARTIAL_SUFFIX = ".partial"
CHUNK = 1 << 20
# S3 allows 10,000 parts of 5 MiB to 5 GiB (the last one smaller). Parts start at 8 MiB and double every 2,000 parts:
# memory stays at about one part (8 MiB up to a 15 GiB artifact) and an artifact may reach about 480 GiB.
PART_SIZE = 8 << 20
PARTS_PER_SIZE = 2000
MAX_PARTS = 10_000


class BackupFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose files are 0600 and folders 0700: backups hold every secret of the portal."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        super().__init__(**kwargs)


def backup_storage() -> Storage:
    storage = storages["backups"]
    if not getattr(storage, "_opsportal_bounded", False):
        _bound_network_calls(storage)
    return storage


def _bound_network_calls(storage: Storage) -> None:
    """Give an S3Storage connect/read timeouts and a retry limit, so no call can wait for ever on a silent peer."""
    # Looked up through the class's bases, not by importing storages.backends.s3: that imports boto3 (≈0.5 s of
    # start-up before pg_dump) on a portal whose backups go to the local disk.
    if any(cls.__module__ == "storages.backends.s3" and cls.__name__ == "S3Storage" for cls in type(storage).__mro__):
        from botocore.config import Config

        timeout = settings.BACKUP_S3_TIMEOUT.total_seconds()
        bounds = Config(
            connect_timeout=min(timeout, 10.0),
            read_timeout=timeout,
            retries={"max_attempts": settings.BACKUP_S3_ATTEMPTS, "mode": "standard"},
        )
        storage.client_config = storage.client_config.merge(bounds)
        storage._connections = threading.local()  # a connection made before this point had no bounds
        storage._bucket = None
    storage._opsportal_bounded = True


def local_path(storage: Storage, name: str) -> Path | None:
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


def part_size(part_number: int) -> int:
    """The size of multipart upload part `part_number` (1-based)."""
    return PART_SIZE << ((part_number - 1) // PARTS_PER_SIZE)


class S3Object:
    """Where a name of an S3Storage lives: the client, the bucket and the key (the storage's `location` applied)."""

    def __init__(self, storage: Any, name: str) -> None:
        from storages.utils import clean_name

        self.storage = storage
        self.client = storage.connection.meta.client
        self.bucket = storage.bucket_name
        self.key = storage._normalize_name(clean_name(name))

    def write_parameters(self) -> dict:
        """What S3Storage sends with an upload: AWS_S3_OBJECT_PARAMETERS / object_parameters, content type, ACL."""
        return self.storage._get_write_parameters(self.key)

    def download_parameters(self) -> dict:
        from s3transfer.constants import ALLOWED_DOWNLOAD_ARGS

        params = self.storage.get_object_parameters(self.key)
        return {key: value for key, value in params.items() if key in ALLOWED_DOWNLOAD_ARGS}


def s3_object(storage: Storage, name: str) -> S3Object | None:
    """The S3 location of `name` when the storage is django-storages' S3Storage (or a subclass), else None."""
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # django-storages[s3] is in requirements.txt, but a trimmed install may lack it
        return None
    return S3Object(storage, name) if isinstance(storage, S3Storage) else None


def _not_found(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404 or response.get("Error", {}).get(
        "Code"
    ) in ("404", "NoSuchKey", "NoSuchUpload")


class S3Upload:
    """A streamed upload to S3: parts of part_size() bytes, completed by close(), aborted by abort().

    Nothing is visible under the key until close() completes the upload; abort() after a failure leaves no object
    and no version. An artifact smaller than one part is sent with a single PUT at close().
    """

    def __init__(self, target: S3Object) -> None:
        self.target = target
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict] = []

    def write(self, data) -> None:
        self.buffer += data
        if len(self.buffer) >= part_size(len(self.parts) + 1):
            self._send_part()

    def _send_part(self) -> None:
        target = self.target
        if self.upload_id is None:
            self.upload_id = target.client.create_multipart_upload(
                Bucket=target.bucket, Key=target.key, **target.write_parameters()
            )["UploadId"]
        number = len(self.parts) + 1
        if number > MAX_PARTS:
            raise OSError(
                _("%(key)s is larger than one S3 multipart upload allows (%(parts)s parts).")
                % {"key": target.key, "parts": MAX_PARTS}
            )
        body, self.buffer = self.buffer, bytearray()  # boto3 sends a bytearray as it is: no copy of the part
        response = target.client.upload_part(
            Bucket=target.bucket, Key=target.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        self.parts.append({"ETag": response["ETag"], "PartNumber": number})

    def close(self) -> None:
        target = self.target
        if self.upload_id is None:
            body, self.buffer = self.buffer, bytearray()
            target.client.put_object(Bucket=target.bucket, Key=target.key, Body=body, **target.write_parameters())
            return
        if self.buffer:
            self._send_part()
        target.client.complete_multipart_upload(
            Bucket=target.bucket, Key=target.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    def abort(self) -> None:
        self.buffer = bytearray()
        if self.upload_id is not None:
            target = self.target
            target.client.abort_multipart_upload(Bucket=target.bucket, Key=target.key, UploadId=self.upload_id)
            self.upload_id = None


class _StreamingBody(io.RawIOBase):
    """A raw readable over botocore's StreamingBody, so io.BufferedReader (and zstd, age) can read it."""

    def __init__(self, body) -> None:
        super().__init__()
        self.body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.body.close()
        super().close()


@contextlib.contextmanager
def open_stored(storage: Storage, name: str) -> Iterator[BinaryIO]:
    """A binary readable of a stored file, streamed (FileNotFoundError if it is not there)."""
    target = s3_object(storage, name)
    if target is None:
        with storage.open(name, "rb") as handle:
            yield handle
        return
    from botocore.exceptions import ClientError

    try:
        response = target.client.get_object(Bucket=target.bucket, Key=target.key, **target.download_parameters())
    except ClientError as exc:
        if _not_found(exc):
            raise FileNotFoundError(
                _("%(name)s does not exist in bucket %(bucket)s.") % {"name": name, "bucket": target.bucket}
            ) from None
        raise
    with io.BufferedReader(_StreamingBody(response["Body"]), CHUNK) as reader:
        yield reader


def abort_uploads(storage: Storage, prefix: str) -> list[str]:
    """Abort the unfinished S3 multipart uploads under prefix (a worker killed mid-upload leaves one behind)."""
    target = s3_object(storage, prefix) if prefix else None
    if target is None:
        return []
    key_prefix = target.key.rstrip("/") + "/"
    aborted = []
    paginator = target.client.get_paginator("list_multipart_uploads")
    for page in paginator.paginate(Bucket=target.bucket, Prefix=key_prefix):
        for upload in page.get("Uploads", ()):
            target.client.abort_multipart_upload(Bucket=target.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            aborted.append(upload["Key"])
    return aborted


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
        self._s3: S3Upload | None = None
        target = s3_object(storage, name) if self._final is None else None
        if target is not None:
            self._s3 = S3Upload(target)
        elif self._final is not None:
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
        if self._s3 is not None:
            self._s3.write(view)
        else:
            self._file.write(view)
        self.sha256.update(view)
        self.bytes_written += len(view)
        return len(view)

    def commit(self) -> None:
        if self._s3 is not None:
            self._s3.close()
        elif self._partial is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._partial, self._final)
        else:
            self._file.close()

    def abort(self) -> None:
        if self._s3 is not None:
            try:
                self._s3.abort()
            except Exception as exc:  # the run fails anyway; remove_run_files and the reaper's abort_uploads follow
                logger.warning("could not abort the upload of %s: %s", self.name, exc)
            return
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
    """Remove every file under prefix (partial ones and unfinished S3 uploads included) and, locally, the folder."""
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
    with contextlib.suppress(Exception):
        removed += [f"{key} (unfinished upload)" for key in abort_uploads(storage, prefix)]
    with contextlib.suppress(FileNotFoundError):
        _, files = storage.listdir(prefix)
        for file_name in files:
            storage.delete(f"{prefix}/{file_name}")
            removed.append(f"{prefix}/{file_name}")
    return removed


def sha256_of(storage: Storage, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open_stored(storage, name) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
