"""`make run`'s process manager: honcho, with time for a clean stop and a clean exit on Ctrl-C.

- honcho SIGKILLs whatever still runs 5 s after it asked the processes to stop (`honcho.manager.KILL_WAIT`). A Celery
  worker's warm shutdown on the embedded filesystem broker takes 3-5 s (its loop polls the broker in 2 s cycles, then
  it stops its pool); a SIGKILL there would cut a task short, so the wait here is longer.
- Ctrl-C in a terminal signals the terminal's whole foreground process group, make included, and make then reports
  "Interrupt" although everything stopped cleanly. Like a shell running a job, this script moves itself into its own
  process group and makes that group the terminal's foreground, so Ctrl-C reaches honcho (which stops the processes)
  and not make; the terminal is handed back on the way out.
- A stop asked for by Ctrl-C or SIGTERM exits 0 once every process has stopped, so make does not report "Error 130".
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator

import honcho.manager
from honcho.command import main

STOP_WAIT_SECONDS = 20
STOPPED_ON_REQUEST = {rule["rc"] for rule in honcho.manager.SIGNALS.values()}  # 130 (SIGINT), 143 (SIGTERM)

honcho.manager.KILL_WAIT = STOP_WAIT_SECONDS


def _set_foreground(fd: int, group: int) -> None:
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background group may not otherwise set it
    try:
        os.tcsetpgrp(fd, group)
    finally:
        signal.signal(signal.SIGTTOU, previous)


@contextlib.contextmanager
def own_foreground_group() -> Iterator[None]:
    """Run in a process group of our own that holds the terminal's foreground (nothing to do without a terminal)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        yield
        return
    try:
        previous = os.tcgetpgrp(fd)
        if previous != os.getpgrp():  # started in the background: leave the terminal alone
            yield
            return
        os.setpgid(0, 0)
        _set_foreground(fd, os.getpgrp())
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                _set_foreground(fd, previous)
    finally:
        os.close(fd)


if __name__ == "__main__":
    with own_foreground_group():
        try:
            main()
        except SystemExit as exc:
            code = 0 if exc.code in STOPPED_ON_REQUEST else exc.code
        else:
            code = 0
    sys.exit(code)
