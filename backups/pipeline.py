"""The streaming pipeline: source → zstd → optional age → sha256 → storage, and back. Constant memory.

Every artifact is a standard file: `age -d -i key FILE | zstd -d` gives back what the source produced (a pg_dump
custom-format archive, an SQLite database, a file, a tar of a volume).
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

import pyrage
import zstandard
from django.conf import settings
from django.utils.translation import gettext as _

from backups.storage import ArtifactWriter

CHUNK = 1 << 20
# How far the source is read ahead of the compressor (ReadAhead): constant memory, whatever the artifact's size.
READ_AHEAD = 4 * CHUNK


class AgeKeyError(Exception):
    """The age identity is missing, unreadable or does not open an artifact."""


class CountingReader(io.RawIOBase):
    """Wraps a readable, counting bytes so the run can show progress."""

    def __init__(self, inner: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.count = 0
        self.on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # zstd pulls through read(); passing the source's bytes on as they are avoids a copy per chunk. read1 returns
        # what has arrived (a pipe from pg_dump) instead of waiting for a full chunk, so a slow source still shows
        # its bytes moving between two progress flushes; zstd reads again after a short read.
        data = self.inner.read1(size) if size > 0 and hasattr(self.inner, "read1") else self.inner.read(size)
        self.count += len(data)
        if self.on_bytes is not None and data:
            self.on_bytes(len(data))
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class IterReader(io.RawIOBase):
    """A readable over an iterator of byte chunks (docker's get_archive stream)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self.chunks = chunks
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


class ReadAhead(io.RawIOBase):
    """Reads a source in its own thread, up to `limit` bytes ahead of the consumer (constant memory).

    Without it pg_dump waits on a full pipe whenever this process compresses, encrypts, hashes or writes: the two
    took turns. With it the source keeps producing while the consumer works (the reads and zstd release the GIL), as
    `pg_dump | zstd` runs both ends at once. Chunks are passed on as they arrive (read1), so a slow source still
    shows its bytes moving. An error of the source is raised from the consumer's next read; a consumer that stops
    early calls close(), which ends the thread.
    """

    def __init__(self, inner: BinaryIO, *, chunk: int = CHUNK, limit: int = READ_AHEAD) -> None:
        super().__init__()
        self.inner = inner
        self.chunk = chunk
        self.limit = limit
        self.chunks: collections.deque = collections.deque()
        self.buffered = 0
        self.done = False  # the source ended or failed: nothing more will be appended
        self.stopping = False
        self.changed = threading.Condition()
        self.pending = b""
        self.offset = 0
        self.thread = threading.Thread(target=self._fill, name="backup-read-ahead", daemon=True)
        self.thread.start()

    def _fill(self) -> None:
        read = getattr(self.inner, "read1", None) or self.inner.read
        item: bytes | BaseException
        while True:
            with self.changed:
                while self.buffered >= self.limit and not self.stopping:
                    self.changed.wait()
                if self.stopping:
                    return
            try:
                item = read(self.chunk)
            except BaseException as exc:  # handed to the consumer
                item = exc
            with self.changed:
                self.chunks.append(item)
                if isinstance(item, bytes):
                    self.buffered += len(item)
                self.done = not item or isinstance(item, BaseException)
                self.changed.notify_all()
                if self.done:
                    return

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.offset >= len(self.pending):
            with self.changed:
                while not self.chunks:
                    self.changed.wait()
                item = self.chunks[0]
                if isinstance(item, BaseException):
                    raise item
                if not item:
                    return b""  # the end stays queued: every later read returns it too
                self.chunks.popleft()
                self.buffered -= len(item)
                self.changed.notify_all()
            self.pending, self.offset = item, 0
        left = len(self.pending) - self.offset
        take = left if size is None or size < 0 else min(size, left)
        if self.offset == 0 and take == len(self.pending):  # the whole chunk: hand it on without a copy
            data, self.pending = self.pending, b""
            return data
        data = self.pending[self.offset:self.offset + take]
        self.offset += take
        return data

    read1 = read

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with self.changed:
            self.stopping = True
            self.chunks.clear()
            self.buffered = 0
            self.changed.notify_all()
        self.thread.join(timeout=5)
        super().close()


def age_recipients() -> list:
    return [pyrage.x25519.Recipient.from_str(text) for text in settings.BACKUP_AGE_RECIPIENTS]


def age_identities() -> list:
    path = settings.BACKUP_AGE_IDENTITY_FILE
    if not path:
        raise AgeKeyError(
            _("This backup is encrypted: set BACKUP_AGE_IDENTITY_FILE to the file holding its age private key.")
        )
    try:
        lines = open(path).read().splitlines()  # noqa: SIM115
    except OSError as exc:
        raise AgeKeyError(_("BACKUP_AGE_IDENTITY_FILE cannot be read: %(error)s") % {"error": exc.strerror}) from None
    identities = []
    for line in lines:
        line = line.strip()
        if line.startswith("AGE-SECRET-KEY-"):
            try:
                identities.append(pyrage.x25519.Identity.from_str(line))
            except pyrage.IdentityError:
                raise AgeKeyError(_("BACKUP_AGE_IDENTITY_FILE holds an invalid age key.")) from None
    if not identities:
        raise AgeKeyError(_("BACKUP_AGE_IDENTITY_FILE holds no age private key (AGE-SECRET-KEY-...)."))
    return identities


def encode(
    *, reader: BinaryIO, writer: ArtifactWriter, encrypt: bool, on_bytes: Callable[[int], None] | None = None
) -> int:
    """Compress (and encrypt) everything `reader` yields into `writer`; return the raw byte count.

    The source is read ahead in a thread (ReadAhead), so it never waits for the compression, the encryption, the
    hash or the write."""
    ahead = ReadAhead(reader)
    counting = CountingReader(ahead, on_bytes)
    compressor = zstandard.ZstdCompressor(
        level=settings.BACKUP_ZSTD_LEVEL, threads=settings.BACKUP_ZSTD_THREADS, write_checksum=True
    )
    try:
        with compressor.stream_reader(counting, read_size=CHUNK, closefd=False) as compressed:
            if encrypt:
                pyrage.encrypt_io(compressed, writer, age_recipients())
            else:
                shutil.copyfileobj(compressed, writer, CHUNK)
    finally:
        ahead.close()
    return counting.count


class _StopAfterFirstWrite(Exception):
    pass


class _ProbeWriter(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        raise _StopAfterFirstWrite


def check_key_opens(handle: BinaryIO, identities: list) -> None:
    """Raise AgeKeyError unless the identities open this age file (only its header and first chunk are read)."""
    try:
        pyrage.decrypt_io(handle, _ProbeWriter(), identities)
    except pyrage.DecryptError as exc:
        raise AgeKeyError(_("The age key does not open this backup: %(error)s") % {"error": exc}) from None
    except Exception as exc:  # the probe's own stop arrives wrapped by pyrage
        if "_StopAfterFirstWrite" in repr(exc) or isinstance(exc, _StopAfterFirstWrite):
            return
        raise AgeKeyError(_("The age key does not open this backup: %(error)s") % {"error": exc}) from None


class DecodeError(Exception):
    """A stored artifact does not decode to what its backup wrote: corrupt, truncated or crafted."""


class DecodedTooLarge(DecodeError):
    """An artifact decodes to more bytes than its backup recorded: corrupt or crafted (a decompression bomb)."""


class DecodedReader(io.RawIOBase):
    """The decoded bytes, checked as they pass: every way decoding can break raises a typed error naming the cause.

    zstd errors become DecodeError; a decryption that failed (its thread ends the pipe early, which zstd takes for
    the end) becomes AgeKeyError; with a `limit` (the recorded raw_bytes) one byte more raises DecodedTooLarge before
    it reaches the consumer, and an end before `limit` bytes raises DecodeError. A consumer (pg_restore) never sees
    a clean-looking end of a broken stream.
    """

    def __init__(
        self,
        inner: BinaryIO,
        limit: int | None,
        decrypt_failure: list[BaseException] | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self.inner = inner
        self.limit = limit
        self.count = 0
        self.decrypt_failure = decrypt_failure if decrypt_failure is not None else []
        self.on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            size = self.inner.readinto(buffer)
        except zstandard.ZstdError as exc:
            raise self._decrypt_error() or DecodeError(
                _("The artifact could not be decoded (it is corrupt): %(error)s") % {"error": exc}
            ) from None
        if not size:
            if error := self._decrypt_error():
                raise error
            if self.limit is not None and self.count < self.limit:
                raise DecodeError(
                    _("The artifact could not be decoded: it ends after %(count)s of the %(limit)s bytes its backup "
                      "recorded (truncated or corrupt).") % {"count": self.count, "limit": self.limit}
                )
            return 0
        self.count += size
        if self.limit is not None and self.count > self.limit:
            raise DecodedTooLarge(
                _("The artifact decodes to more than the %(limit)s bytes its backup recorded: it is corrupt or "
                  "crafted (a decompression bomb?), so decoding stopped.") % {"limit": self.limit}
            )
        if self.on_bytes is not None:
            self.on_bytes(size)
        return size

    def _decrypt_error(self) -> AgeKeyError | None:
        if not self.decrypt_failure:
            return None
        return AgeKeyError(_("The backup could not be decrypted: %(error)s") % {"error": self.decrypt_failure[0]})


@contextlib.contextmanager
def decoded(
    handle: BinaryIO, *, encrypted: bool, limit: int | None, on_bytes: Callable[[int], None] | None = None
) -> Iterator[BinaryIO]:
    """A readable of the original bytes of a stored artifact (decrypting in a thread when needed).

    `limit` is the artifact's recorded `raw_bytes`: reading past it raises DecodedTooLarge, so a crafted artifact
    (3 GiB of zeros is 100 KB of zstd) cannot fill a disk or memory. It is required on purpose; pass None only
    where no size was ever recorded. Any other breakage raises DecodeError or AgeKeyError from the read that meets
    it (see DecodedReader). `on_bytes` is told the size of each decoded chunk (a restore's progress).
    """
    decompressor = zstandard.ZstdDecompressor()
    if not encrypted:
        with decompressor.stream_reader(handle, read_size=CHUNK, closefd=False) as plain:
            yield DecodedReader(plain, limit, on_bytes=on_bytes)
        return
    identities = age_identities()
    read_fd, write_fd = os.pipe()
    pipe_in = os.fdopen(read_fd, "rb", buffering=CHUNK)
    pipe_out = os.fdopen(write_fd, "wb", buffering=CHUNK)
    failure: list[BaseException] = []

    def decrypt() -> None:
        try:
            pyrage.decrypt_io(handle, pipe_out, identities)
        except BaseException as exc:  # handed to the reading side
            failure.append(exc)
        finally:
            with contextlib.suppress(OSError):
                pipe_out.close()

    thread = threading.Thread(target=decrypt, name="age-decrypt", daemon=True)
    thread.start()
    try:
        with decompressor.stream_reader(pipe_in, read_size=CHUNK, closefd=False) as plain:
            yield DecodedReader(plain, limit, failure, on_bytes=on_bytes)
    finally:
        pipe_in.close()  # unblocks the decrypting thread if the consumer stopped early
        thread.join(timeout=30)
    if failure and not isinstance(failure[0], BrokenPipeError):
        raise AgeKeyError(_("The backup could not be decrypted: %(error)s") % {"error": failure[0]})
