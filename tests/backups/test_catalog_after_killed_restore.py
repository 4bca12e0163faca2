"""A restore of the portal's own database killed while its catalog is being re-indexed.

Since the restore is built in a new database and swapped in only after its catalog was repaired (issue 14.1), there
is no moment any more when the restored data is live and its catalog is not: a kill during the re-index leaves the
old database (and its catalog) live; the next reaper tick fails the restore and drops the unfinished new database,
so no `backup --reindex` by hand is needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from backups.models import BackupRun, RestoreRun
from backups.services.catalog_pending import marker_path
from backups.services.verify import backup_run_verify
from backups.tasks import reap_stale_runs
from tests.conftest import ROOT, test_database_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _opened_by(pid: int, fifo) -> bool:
    """Whether process `pid` is opening the FIFO (the re-index blocked on it); opening it here would unblock it."""
    try:
        if any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(fifo) for fd in os.listdir(f"/proc/{pid}/fd")):
            return True
        with open(f"/proc/{pid}/wchan") as wchan:  # blocked in open(2), before the fd exists
            return wchan.read() in ("wait_for_partner", "fifo_open")
    except OSError:
        return False


def test_a_restore_killed_while_re_indexing_leaves_the_old_database_and_its_catalog_live(
    backup_dir, run_backup, settings
):
    run = run_backup()  # its dump holds this run "running" and unverified
    drilled = backup_run_verify(run_id=run.pk, drill=True).run
    # A manifest that is a FIFO: the restore's re-index (inside the new database, before the swap) blocks on it.
    (backup_dir / "zz-hold").mkdir()  # sorted last
    fifo = backup_dir / "zz-hold" / "manifest.json"
    os.mkfifo(fifo)
    env = test_database_env(BACKUP_DIR=str(backup_dir), VAR_DIR=str(backup_dir.parent / "var"), BACKUP_FILES="",
                            BACKUP_DOCKER_VOLUMES="")
    output = backup_dir.parent / "restore.out"
    with output.open("w") as out:
        cli = subprocess.Popen([sys.executable, "manage.py", "restore", str(run.pk), "--yes"], cwd=ROOT, env=env,
                               stdout=out, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: "catalog re-indexed" not in output.read_text() and _opened_by(cli.pid, fifo), timeout=120,
                 interval=0.05, what="the re-index in the new database to wait on the FIFO")
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=30)
    fifo.unlink()
    assert not marker_path().exists()  # nothing to re-index: the live database is the old one, its catalog right
    live = BackupRun.objects.get(pk=run.pk)
    assert live.status == BackupRun.Status.SUCCEEDED and live.verification == drilled.verification

    settings.BACKUP_STALE_AFTER = timedelta(seconds=1)  # the killed restore's heartbeat ends at once, not in 10 min
    time.sleep(1.5)
    reap_stale_runs()

    repaired = BackupRun.objects.get(pk=run.pk)
    assert repaired.status == BackupRun.Status.SUCCEEDED
    assert (repaired.verification, repaired.drill_rto_seconds) == (drilled.verification, drilled.drill_rto_seconds)
    assert BackupRun.objects.filter(trigger=BackupRun.Trigger.SAFETY, status=BackupRun.Status.SUCCEEDED).exists()
    assert not marker_path().exists()
    # The killed restore itself is in the catalog (from its record beside the backup), failed by the reaper.
    killed = RestoreRun.objects.get(source_run_uuid=run.uuid)
    assert killed.status == RestoreRun.Status.FAILED and "worker lost" in killed.error
    assert killed.safety_run is not None and killed.safety_run.trigger == BackupRun.Trigger.SAFETY
