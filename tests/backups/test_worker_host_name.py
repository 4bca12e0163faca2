"""A backup names the host that ran it as the portal names its hosts (MONITOR_HOSTNAME, else the machine's name), so
two hosts sharing a machine name (containers, network namespaces) are told apart in the catalog, in the manifest and
by the reaper, which judges only the runs of its own host by their process ids."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from backups.models import BackupRun
from backups.services.reaper import backup_runs_reap_dead_workers
from tests.backups.conftest import make_run

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_backup_records_the_configured_host_name_in_its_row_and_manifest(backup_dir, run_backup, settings):
    settings.MONITOR_HOSTNAME = "backups-2"

    run = run_backup()

    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    assert run.worker_host == "backups-2"
    manifest = json.loads(next(backup_dir.rglob("manifest.json")).read_text())
    assert manifest["run"]["worker_host"] == "backups-2"


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


@pytest.mark.parametrize(("this_host", "reaped"), [("backups-2", True), ("backups-3", False)])
def test_the_reaper_judges_a_pid_only_on_the_host_named_in_the_run(backup_dir, settings, this_host, reaped):
    # Both hosts have the same machine name; only the one the run names may read its pid.
    settings.MONITOR_HOSTNAME = this_host
    run = make_run(status=BackupRun.Status.RUNNING, started_at=timezone.now() - timedelta(minutes=1),
                   heartbeat_at=timezone.now(), worker_host="backups-2", worker_pid=_dead_pid(),
                   current_artifact="database:default")

    assert [r.pk for r in backup_runs_reap_dead_workers()] == ([run.pk] if reaped else [])

    run.refresh_from_db()
    assert run.status == (BackupRun.Status.FAILED if reaped else BackupRun.Status.RUNNING)
