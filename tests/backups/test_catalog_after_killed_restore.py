"""A restore of the portal's own database killed after its data was restored, before the catalog was re-indexed:
the next reaper tick re-indexes, so no `backup --reindex` by hand is needed."""

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


def test_the_reaper_tick_re_indexes_after_a_restore_killed_between_the_data_and_the_catalog(
    backup_dir, run_backup, settings
):
    run = run_backup()  # its dump holds this run "running" and unverified
    drilled = backup_run_verify(run_id=run.pk, drill=True).run
    # A manifest that is a FIFO: the restore's re-index blocks on it, after pg_restore has committed the data.
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
        # "succeeded" is printed once pg_restore committed; the re-index that follows then waits on the FIFO.
        wait_for(lambda: "succeeded" in output.read_text().splitlines(), timeout=120, interval=0.05,
                 what="the restore of the data to commit")
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=30)
    fifo.unlink()
    assert marker_path().exists()
    restored = BackupRun.objects.get(pk=run.pk)
    assert restored.status == BackupRun.Status.RUNNING and restored.verification == ""  # the catalog of backup time

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
