"""pg_dumps_running (tests/conftest.py) tells the faults tests when pg_dump runs: it must not count a short-lived
`pg_dump --version` while that one exits (its command line is already gone, it is not a zombie yet)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import pg_dumps_running

# A process named pg_dump (Python through a link of that name) that asks for --version, holds 1 GiB and exits: the
# kernel frees that memory after detaching it from the process, so for a while /proc/PID/cmdline reads empty.
EXITING_SLOWLY = "b = bytearray(1 << 30); print('ready', flush=True)"


def test_a_version_check_that_is_exiting_is_not_a_running_dump(tmp_path):
    fake = tmp_path / "pg_dump"
    os.symlink(os.path.realpath(sys.executable), fake)
    counted = []
    for _ in range(3):
        child = subprocess.Popen([str(fake), "-c", EXITING_SLOWLY, "--version"], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline() == "ready\n"
        while child.poll() is None:
            counted += pg_dumps_running()
        child.stdout.close()

    assert counted == []
