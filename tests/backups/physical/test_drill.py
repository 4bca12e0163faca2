"""The scheduled PITR drill: mark a moment, restore to it in a scratch cluster, prove it, record RTO, clean up."""

from __future__ import annotations

import pytest

from backups.models import BackupRun
from backups.physical.backup import physical_backup_create
from backups.physical.catalog import physical_catalog_reindex
from backups.physical.cluster import scratch_clusters_reap
from backups.physical.info import stanza_info
from backups.physical.tasks import pitr_drill
from backups.services.backup import backup_run_execute
from tests.backups.physical.conftest import write_rows

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_drill_recovers_to_the_marked_moment_records_rto_and_removes_its_scratch_cluster(physical):
    write_rows(physical, range(1, 50))
    run = backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli").pk)
    assert run.status == BackupRun.Status.SUCCEEDED, run.error

    assert pitr_drill() is True

    run.refresh_from_db()
    assert run.verification == BackupRun.Verification.DRILL_PASSED, run.verification_detail
    assert run.drill_rto_seconds is not None and run.drill_rto_seconds > 0
    assert "the row written before it is there" in run.verification_detail
    assert not any(physical.scratch.rglob("postmaster.pid")), "the scratch cluster is still there"
    assert not [p for p in physical.scratch.iterdir() if p.name != "owners"]
    assert not list((physical.scratch / "owners").glob("*.json"))
    # The outcome lives in pgBackRest too: a catalog rebuilt from there still knows the drill passed.
    BackupRun.objects.all().delete()
    (rebuilt,) = physical_catalog_reindex().runs
    assert rebuilt.uuid == run.uuid and rebuilt.verification == BackupRun.Verification.DRILL_PASSED
    assert rebuilt.drill_rto_seconds == pytest.approx(run.drill_rto_seconds)
    assert stanza_info().backups[0].annotations["opsportal-drill"]


def test_the_drill_without_a_physical_backup_fails_saying_so(physical):
    assert pitr_drill() is False
    assert scratch_clusters_reap() == []
