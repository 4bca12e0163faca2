"""The backup pipeline reads its source ahead in a thread: the producer (pg_dump, tar) never waits while this process
compresses, encrypts, hashes or writes, and nothing is lost or left running when either end fails."""

from __future__ import annotations

import errno
import io
import subprocess
import threading

import pytest
import zstandard

from backups.pipeline import CHUNK, encode

SIZE = 3 * CHUNK  # less than the read-ahead (4 MiB): all of it fits ahead of a stalled writer


class Sink(io.RawIOBase):
    """A writer that keeps what it is given; `hold` makes its first write wait until released."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        super().__init__()
        self.data = bytearray()
        self.hold = hold
        self.first_write = threading.Event()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.first_write.set()
        if self.hold is not None:
            assert self.hold.wait(60), "the test never released the writer"
        self.data += data
        return len(data)


def read_ahead_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "backup-read-ahead" and thread.is_alive()]


def test_the_producer_finishes_while_the_writer_is_still_busy(settings):
    settings.BACKUP_ZSTD_LEVEL = 1
    producer = subprocess.Popen(["head", "-c", str(SIZE), "/dev/urandom"], stdout=subprocess.PIPE)
    release = threading.Event()
    sink = Sink(hold=release)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(raw=encode(reader=producer.stdout, writer=sink,
                                                                           encrypt=False)))
    worker.start()
    try:
        assert sink.first_write.wait(30), "nothing reached the writer"
        # The writer is stuck in its first write; with the source read in the same thread the producer would now
        # block on its full 64 KB pipe and never exit. Read ahead, it has written all it had and exited.
        assert producer.wait(timeout=30) == 0
    finally:
        release.set()
        worker.join(60)
        producer.stdout.close()
    assert result["raw"] == SIZE
    assert len(zstandard.ZstdDecompressor().decompressobj().decompress(bytes(sink.data))) == SIZE
    assert read_ahead_threads() == []


class FailingSource(io.RawIOBase):
    """Yields `good` bytes, then fails as a broken pipe or a dying child would."""

    def __init__(self, good: int) -> None:
        super().__init__()
        self.left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            raise OSError(errno.EIO, "Input/output error")
        size = min(len(buffer), self.left, CHUNK)
        buffer[:size] = b"x" * size
        self.left -= size
        return size


def test_an_error_of_the_source_reaches_the_backup_and_no_thread_is_left():
    with pytest.raises(OSError, match="Input/output error"):
        encode(reader=FailingSource(3 * CHUNK), writer=Sink(), encrypt=False)
    assert read_ahead_threads() == []


class FullDisk(Sink):
    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_writer_that_fails_stops_the_read_ahead_and_the_source_is_not_drained():
    producer = subprocess.Popen(["head", "-c", str(64 * CHUNK), "/dev/urandom"], stdout=subprocess.PIPE)
    try:
        with pytest.raises(OSError, match="No space left"):
            encode(reader=producer.stdout, writer=FullDisk(), encrypt=False)
        assert read_ahead_threads() == []
        # Constant memory: the read-ahead stopped at its depth instead of swallowing the whole 64 MB source.
        # At most the 4 MiB read ahead, the chunk in hand and zstd's input were taken: the rest is still in the source.
        assert len(producer.stdout.read()) >= 64 * CHUNK - 16 * CHUNK
    finally:
        producer.stdout.close()
        producer.kill()
        producer.wait()
