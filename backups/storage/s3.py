"""Backups on S3: django-storages' S3Storage (its options: bucket, location, credentials, endpoint, object parameters),
written and read through boto3's own streaming.

Why not S3Storage's file object: closing it after a failure *completes* the upload (a truncated or empty object
appears and must be deleted again, which leaves versions behind in a versioned bucket), and reading it downloads the
whole object into memory before the first byte is returned.

Writing: the pipeline writes into an OS pipe; a thread hands the other end to boto3's managed transfer (s3transfer's
TransferManager, no threads of its own), which uploads it in parts: one PUT when the artifact is smaller than one
part, else a multipart upload. s3transfer makes one part of each read() of the stream, and the stream answers with
part_size() bytes, so parts start at 8 MiB and double every 2,000 parts (S3 allows 10,000): memory is about one part
and an artifact may reach about 480 GiB. A failure (or abort()) makes the stream raise, and s3transfer then aborts
the multipart upload, so no object ever appears; a killed worker's unfinished upload is aborted by the reaper
(abort_uploads). Object parameters, content type and ACL are those S3Storage sends with a save.

Reading: one GET whose body botocore streams (and checks against its checksum), through a 1 MiB buffer.

Every call is bounded: connect and read timeouts of BACKUP_S3_TIMEOUT and BACKUP_S3_ATTEMPTS attempts (botocore's
standard retry mode), applied to the storage whatever its options say.

boto3 is imported only here and only when the storage is S3: a portal backing up to the local disk never loads it.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import mimetypes
import os
import threading
from collections.abc import Iterator
from functools import cached_property
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.storage import Storage
from django.utils.translation import gettext as _

from backups.storage.generic import delete_listed

logger = logging.getLogger("backups")

MiB = 1 << 20
BUFFER = MiB
PIPE_BUFFER = 64 << 10  # what the upload thread's reader buffers: it reads whole parts straight into their bytes
SMALL_FILE = 256 << 10  # a file up to this size is kept in memory and sent at commit(), without a thread
# S3 allows 10,000 parts of 5 MiB to 5 GiB (the last one smaller) and objects up to 5 TiB. Parts start at 8 MiB and
# double every 2,000 parts: memory stays at about one part (8 MiB up to a 15 GiB artifact) and an artifact may reach
# about 480 GiB.
PART_SIZE = 8 * MiB
PARTS_PER_SIZE = 2000
MAX_PARTS = 10_000
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB


def part_size(part_number: int) -> int:
    """The size of multipart upload part `part_number` (1-based)."""
    return PART_SIZE << ((part_number - 1) // PARTS_PER_SIZE)


def is_s3(storage: Storage) -> bool:
    """Whether the storage is django-storages' S3Storage or a subclass, without importing it (that imports boto3)."""
    return any(
        cls.__module__ == "storages.backends.s3" and cls.__name__ == "S3Storage" for cls in type(storage).__mro__
    )


def bound_network_calls(storage: Any) -> None:
    """Give an S3Storage connect/read timeouts and a retry limit, so no call can wait for ever on a silent peer.

    Called before the storage's first connection (backup_storage() does it when it first gets the storage), which
    S3Storage makes from `client_config`.
    """
    from botocore.config import Config

    timeout = settings.BACKUP_S3_TIMEOUT.total_seconds()
    bounds = Config(
        connect_timeout=min(timeout, 10.0),
        read_timeout=timeout,
        retries={"max_attempts": settings.BACKUP_S3_ATTEMPTS, "mode": "standard"},
    )
    storage.client_config = storage.client_config.merge(bounds)


def _not_found(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404 or response.get("Error", {}).get(
        "Code"
    ) in ("404", "NoSuchKey", "NoSuchUpload")


class UploadAborted(Exception):
    """Raised into s3transfer by the stream when the upload is aborted: s3transfer then aborts the multipart upload."""


class _PartStream:
    """The read end of the pipe as s3transfer reads it: each read() is one part, of part_size() bytes.

    Not seekable, so s3transfer reads it as a stream; a read that stops short of its size is the end of the artifact
    (the pipe's write end was closed), unless the upload was aborted, which raises UploadAborted instead.
    """

    def __init__(self, read_fd: int, aborted: threading.Event, key: str) -> None:
        self.pipe = open(read_fd, "rb", buffering=PIPE_BUFFER)  # noqa: SIM115 (closed by close())
        self.aborted = aborted
        self.key = key
        self.parts = 0
        self.pending = b""  # the first part, read before the transfer starts to choose between PUT and multipart

    def readable(self) -> bool:
        return True

    def read(self, amount: int | None = -1) -> bytes:
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        self.parts += 1
        size = part_size(self.parts) if amount is None or amount < 0 else min(amount, part_size(self.parts))
        data = self.pipe.read(size)  # blocks until `size` bytes or the end of the pipe
        if self.aborted.is_set():
            raise UploadAborted(self.key)
        if data and self.parts > MAX_PARTS:
            raise OSError(
                _("%(key)s is larger than one S3 multipart upload allows (%(parts)s parts).")
                % {"key": self.key, "parts": MAX_PARTS}
            )
        return data

    def close(self) -> None:
        self.pipe.close()


@contextlib.contextmanager
def _transfer_manager(client: Any) -> Iterator[Any]:
    from boto3.s3.transfer import TransferConfig, create_transfer_manager

    config = TransferConfig(
        multipart_threshold=PART_SIZE,  # an artifact smaller than one part is one PUT
        multipart_chunksize=MAX_PART_SIZE,  # what s3transfer asks for; the stream answers with part_size()
        use_threads=False,  # one part in memory at a time, uploaded in the upload thread
        preferred_transfer_client="classic",
    )
    with create_transfer_manager(client, config) as manager:
        yield manager


def _at_most_s3s_limit() -> Any:
    """A subscriber telling s3transfer the stream may be as large as an S3 object can be: it then uploads it in
    parts without reading a first part to find out, and allows parts up to S3's limit (the stream decides theirs)."""
    from s3transfer.subscribers import BaseSubscriber

    class AtMostS3sLimit(BaseSubscriber):
        def on_queued(self, future, **kwargs) -> None:
            future.meta.provide_transfer_size(MAX_OBJECT_SIZE)

    return AtMostS3sLimit()


class S3Upload:
    """A streamed upload to S3 through boto3's managed transfer; visible only once commit() returns.

    The first SMALL_FILE bytes are kept here: a file that ends within them (a manifest, a sidecar) is sent at
    commit() with one PUT from this thread. A larger one goes through the pipe to the upload thread, which reads it
    one part at a time.
    """

    def __init__(self, backend: S3Backend, name: str) -> None:
        self.key = backend.key(name)
        self.bucket = backend.bucket
        self.client = backend.client  # made here: a client per upload thread would load boto3's S3 model again
        self.extra_args = backend.write_parameters(self.key)
        self._head: bytearray | None = bytearray()
        self._write_fd = -1
        self._aborted = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        read_fd, self._write_fd = os.pipe()
        with contextlib.suppress(AttributeError, OSError):  # a larger pipe means fewer wake-ups; Linux only
            fcntl.fcntl(self._write_fd, fcntl.F_SETPIPE_SZ, BUFFER)
        stream = _PartStream(read_fd, self._aborted, self.key)
        self._thread = threading.Thread(target=self._upload, args=(stream,), name=f"s3-upload:{self.key}", daemon=True)
        self._thread.start()

    def _upload(self, stream: _PartStream) -> None:
        try:
            stream.pending = stream.read(PART_SIZE)
            with _transfer_manager(self.client) as manager:
                if len(stream.pending) < PART_SIZE:  # the whole artifact: one PUT
                    body, stream.pending = io.BytesIO(stream.pending), b""
                    future = manager.upload(body, self.bucket, self.key, extra_args=self.extra_args)
                else:
                    future = manager.upload(
                        stream, self.bucket, self.key, extra_args=self.extra_args, subscribers=[_at_most_s3s_limit()]
                    )
                future.result()
        except BaseException as exc:  # handed to the writer's thread by commit() or write()
            self._error = exc
        finally:
            stream.close()  # a write blocked on the pipe fails at once (EPIPE) after a failure

    def _close_pipe(self) -> None:
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._write_fd = -1

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def write(self, data: memoryview) -> None:
        if self._head is not None:
            if len(self._head) + len(data) <= SMALL_FILE:
                self._head += data
                return
            head, self._head = self._head, None
            self._start()
            self._send(head)
            del head
        self._send(data)

    def _send(self, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            try:
                written = os.write(self._write_fd, view)
            except BrokenPipeError:
                self._join()
                raise (self._error or OSError(_("The upload of %(key)s ended early.") % {"key": self.key})) from None
            view = view[written:]

    def commit(self) -> None:
        if self._head is not None:  # the whole file is here: one PUT
            body, self._head = io.BytesIO(self._head), None
            with _transfer_manager(self.client) as manager:
                manager.upload(body, self.bucket, self.key, extra_args=self.extra_args).result()
            return
        self._close_pipe()  # the end of the artifact
        self._join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._head = None
        self._aborted.set()
        self._close_pipe()
        self._join()
        if self._error is not None and not isinstance(self._error, UploadAborted):
            logger.info("the upload of %s failed: %s", self.key, self._error)


class S3Backend:
    """Where the names of an S3Storage live: its client, its bucket, and keys with its `location` applied."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.bucket = storage.bucket_name

    @cached_property
    def client(self) -> Any:
        return self.storage.connection.meta.client

    def key(self, name: str) -> str:
        from storages.utils import clean_name, safe_join

        try:
            return safe_join(self.storage.location, clean_name(name))
        except ValueError:
            raise SuspiciousOperation(_("%(name)s is outside the storage's location.") % {"name": name}) from None

    def write_parameters(self, key: str) -> dict:
        """What S3Storage sends with a save: its object parameters, a content type (and encoding) and its ACL."""
        params = self.storage.get_object_parameters(key)
        if "ContentType" not in params:
            content_type, encoding = mimetypes.guess_type(key)
            params["ContentType"] = content_type or self.storage.default_content_type
            if encoding:
                params["ContentEncoding"] = encoding
        if "ACL" not in params and self.storage.default_acl:
            params["ACL"] = self.storage.default_acl
        return params

    def download_parameters(self, key: str) -> dict:
        from s3transfer.constants import ALLOWED_DOWNLOAD_ARGS

        params = self.storage.get_object_parameters(key)
        return {name: value for name, value in params.items() if name in ALLOWED_DOWNLOAD_ARGS}

    def local_path(self, name: str) -> None:
        return None

    def upload(self, name: str) -> S3Upload:
        return S3Upload(self, name)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        from botocore.exceptions import ClientError

        key = self.key(name)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, **self.download_parameters(key))
        except ClientError as exc:
            if _not_found(exc):
                raise FileNotFoundError(
                    _("%(name)s does not exist in bucket %(bucket)s.") % {"name": name, "bucket": self.bucket}
                ) from None
            raise
        body = response["Body"]
        try:
            with io.BufferedReader(body, BUFFER) as reader:
                yield reader
        finally:
            with contextlib.suppress(Exception):
                body.close()

    def abort_uploads(self, prefix: str) -> list[str]:
        key_prefix = self.key(prefix).rstrip("/") + "/"
        aborted = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=key_prefix):
            for upload in page.get("Uploads", ()):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                aborted.append(upload["Key"])
        return aborted

    def delete_prefix(self, prefix: str) -> list[str]:
        removed: list[str] = []
        with contextlib.suppress(Exception):
            removed += [f"{key} (unfinished upload)" for key in self.abort_uploads(prefix)]
        return removed + delete_listed(self.storage, prefix)
