"""SIGINT and SIGTERM while a backup runs in this process's main thread: they end the backup, not the process.

`signals_interrupt()` makes the default dispositions raise BackupInterrupted in the streaming (main) thread, so the
backup's failure path runs (files removed, run failed) before the process goes on to exit. Handlers someone else
installed are left alone: a Celery pool child's SIGTERM handler already raises SystemExit, which the failure path
catches the same way, and an ignored signal (SIGINT in a pool child) stays ignored. `signals_deferred()` holds
further signals back while the failure is being written, and delivers the first one afterwards.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from backups.services.failure import BackupInterrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}


def _raise(signum: int, frame: object) -> None:
    raise BackupInterrupted(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    if not _in_main_thread():
        yield
        return
    previous = {}
    for signum in SIGNALS:
        current = signal.getsignal(signum)
        if current is _DEFAULTS[signum]:
            previous[signum] = current
            signal.signal(signum, _raise)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Record SIGINT/SIGTERM instead of acting on them; afterwards re-deliver the first one that came."""
    if not _in_main_thread():
        yield
        return
    received: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum in SIGNALS:
        signal.signal(signum, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])
