"""Feeding a decoded stream into a child process (pg_restore) so that no failure can leave the child waiting.

A child reading its stdin waits for the end of the input for ever: if the stream breaks (S3 connection lost, a
corrupt artifact, the decode limit) and stdin stays open, pg_restore keeps its transaction and its locks while the
run's heartbeat goes on beating. So on any error while feeding or waiting, the child is ended (SIGTERM: pg_restore
sends the server a cancel and exits, so its single transaction rolls back; SIGKILL after a short grace) and reaped,
and the error that broke the stream is raised, not the child's exit code.

The last chunk read is held back until the next read succeeds: a decoder notices some breakage only at the very end
(zstd's checksum, age's final chunk, the recorded size), and pg_restore must never see the end of an archive (and
commit) before the stream it came from was found whole.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 20
GRACE_SECONDS = 5.0


@dataclass
class ChildOutcome:
    code: int
    stderr: str


def end_child(process: subprocess.Popen, *, grace: float = GRACE_SECONDS) -> None:
    """Terminate `process`, kill it if it is still there after `grace` seconds, and reap it."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()


def feed_child(command: Sequence[str], reader: BinaryIO, *, env: dict[str, str] | None = None) -> ChildOutcome:
    """Run `command` with everything `reader` yields on its stdin; its exit code and stderr once it has finished.

    The child stopping early (a closed pipe) is not an error here: its exit code and stderr say why. Any other
    exception (from reading, or a signal such as a task's time limit while waiting) ends the child first, then
    propagates unchanged.
    """
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=stderr, env=env)
        try:
            _copy_holding_back_the_last_chunk(reader, process.stdin)
            code = process.wait()
        except BaseException:
            end_child(process)
            raise
        finally:
            with contextlib.suppress(OSError):
                process.stdin.close()  # after a broken pipe, closing flushes nothing and must not raise
        stderr.seek(0)
        return ChildOutcome(code=code, stderr=stderr.read().decode(errors="replace").strip())


def _copy_holding_back_the_last_chunk(reader: BinaryIO, stdin: BinaryIO) -> None:
    held = b""
    while chunk := reader.read(CHUNK):
        if held and not _write(stdin, held):
            return
        held = chunk
    # The read that found the end raised nothing: the stream is whole, the child may have its end.
    if _write(stdin, held):
        with contextlib.suppress(BrokenPipeError):
            stdin.close()


def _write(stdin: BinaryIO, data: bytes) -> bool:
    """False once the child stopped reading (it has exited or is exiting, and its exit code says why)."""
    try:
        stdin.write(data)
    except BrokenPipeError:
        return False
    return True
