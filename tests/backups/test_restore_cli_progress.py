"""The restore command shows its progress like the backup command: a bar redrawn on a terminal, plain lines in a pipe.

The backup restored is a few MB of rows; the restore goes `--into` a new database through a throttled TCP link of
the test's own (tests/backups/test_live_progress.py), so pg_restore reads the decoded stream for seconds and the
command has several beats to show. No timing is asserted.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from backups.models import BackupRun, RestoreRun
from tests.backups.conftest import terminal_output
from tests.backups.test_live_progress import ThrottledProxy, slow_database  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slow_target(slow_database, run_backup, new_database_url):  # noqa: F811
    """(backup, URL of a new database reached through a throttled link)."""
    backup = run_backup()
    assert backup.status == BackupRun.Status.SUCCEEDED, backup.error
    proxy = ThrottledProxy(("127.0.0.1", 5432))
    name = new_database_url().rsplit("/", 1)[1]
    try:
        yield backup, f"postgres://postgres@127.0.0.1:{proxy.port}/{name}"
    finally:
        proxy.close()


def test_the_restore_command_draws_a_bar_on_a_terminal(slow_target):
    backup, into = slow_target
    with terminal_output() as (terminal, received):
        call_command("restore", backup.pk, "--into", into, "--yes", stderr=terminal, stdout=terminal)
    text = received.decode()
    label = f"restore of backup #{backup.pk}"
    redraws = [part for part in text.split("\r\x1b[K") if part.startswith(label)]
    assert len(redraws) >= 2, text  # redrawn in place, not one line per update
    assert any("[#" in part and " %)" in part and "of about" in part for part in redraws), text
    assert any("left" in part for part in redraws), text  # an ETA while bytes were still to come
    # the log lines are printed above the bar, each on a line of its own, and the outcome line once
    assert "restoring database:progressdb from " in text
    assert text.count("succeeded.") == 1, text
    assert RestoreRun.objects.get().status == RestoreRun.Status.SUCCEEDED


def test_the_restore_command_prints_plain_lines_when_not_on_a_terminal(slow_target, settings):
    backup, into = slow_target
    err, out = io.StringIO(), io.StringIO()
    call_command("restore", backup.pk, "--into", into, "--yes", stderr=err, stdout=out)
    assert "\r" not in err.getvalue() and "\x1b" not in err.getvalue()
    plain = re.compile(rf"restore of backup #{backup.pk}: [\d.]+ [KM]?B of about [\d.]+ MB \(\d{{1,2}} %\)")
    lines = err.getvalue().splitlines()
    assert any(plain.fullmatch(line) for line in lines), lines
    assert re.search(r"Restore #\d+ succeeded", out.getvalue()), out.getvalue()
