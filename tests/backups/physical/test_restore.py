"""Point-in-time restore into a new data directory and port: exactly the rows committed before the target."""

from __future__ import annotations

import pytest

from backups.models import BackupRun, RestoreRun
from backups.physical.backup import physical_backup_create
from backups.physical.cluster import free_port
from backups.physical.restore import physical_restore_create, recovery_window
from backups.physical.sql import restore_point_create
from backups.services.backup import backup_run_execute
from backups.services.restore import restore_run_execute
from tests.backups.physical.conftest import moment_between_commits, order_ids, write_rows

pytestmark = pytest.mark.django_db(transaction=True)


def _full_backup() -> BackupRun:
    run = backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli", actor="test").pk)
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    return run


def _restore(folder, target_type: str, target: str = "") -> RestoreRun:
    port = free_port()
    restore = physical_restore_create(target_type=target_type, target=target, pg_path=str(folder / "restored"),
                                      port=port, actor="test")
    done = restore_run_execute(restore_id=restore.pk)
    assert done is not None
    return done


def test_restore_to_a_time_brings_back_exactly_the_rows_committed_before_it(physical):
    write_rows(physical, range(1, 11))
    _full_backup()
    write_rows(physical, range(11, 21))   # after the backup, before T: only in the WAL archive
    target = moment_between_commits(physical)
    write_rows(physical, range(21, 31))   # after T
    physical.switch_and_wait()            # a commit is reachable once the segment after it is archived

    restore = _restore(physical.folder, "time", target)

    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert order_ids(restore.port) == list(range(1, 21))
    assert order_ids(physical.port) == list(range(1, 31))  # the running cluster is untouched
    assert (physical.folder / "restored" / "postgresql.auto.conf").read_text().count(f"port = {restore.port}") == 1
    assert "opsportal-before-restore" in restore.log  # the safety step marked the present first


def test_restore_to_the_latest_brings_back_every_archived_commit(physical):
    write_rows(physical, range(1, 6))
    _full_backup()
    write_rows(physical, range(6, 9))
    physical.switch_and_wait()
    restore = _restore(physical.folder, "latest")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert order_ids(restore.port) == list(range(1, 9))


def test_restore_to_a_named_restore_point(physical):
    _full_backup()
    write_rows(physical, range(1, 4))
    restore_point_create("before-deploy-42")
    write_rows(physical, range(4, 7))
    physical.switch_and_wait()
    restore = _restore(physical.folder, "name", "before-deploy-42")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert order_ids(restore.port) == [1, 2, 3]


def test_a_time_before_the_earliest_recoverable_time_is_refused_untouched(physical):
    _full_backup()
    window = recovery_window()
    assert window.earliest is not None and window.latest is not None and window.latest >= window.earliest
    restore = _restore(physical.folder, "time", "2001-01-01T00:00:00+00:00")
    assert restore.status == RestoreRun.Status.REFUSED
    assert "earliest recoverable" in restore.error
    assert not (physical.folder / "restored").exists()


def test_a_port_in_use_or_a_non_empty_directory_is_refused(physical):
    _full_backup()
    busy = physical_restore_create(target_type="latest", pg_path=str(physical.folder / "a"), port=physical.port)
    assert restore_run_execute(restore_id=busy.pk).status == RestoreRun.Status.REFUSED
    (physical.folder / "b").mkdir()
    (physical.folder / "b" / "keep.txt").write_text("mine")
    full = physical_restore_create(target_type="latest", pg_path=str(physical.folder / "b"), port=free_port())
    refused = restore_run_execute(restore_id=full.pk)
    assert refused.status == RestoreRun.Status.REFUSED and "not empty" in refused.error
    assert (physical.folder / "b" / "keep.txt").read_text() == "mine"


def test_restore_in_place_takes_a_safety_backup_then_brings_the_cluster_back_to_the_time(physical):
    write_rows(physical, range(1, 6))
    _full_backup()
    target = moment_between_commits(physical)
    write_rows(physical, range(6, 11))
    physical.switch_and_wait()
    restore = physical_restore_create(target_type="time", target=target, in_place=True, actor="test")
    done = restore_run_execute(restore_id=restore.pk)
    assert done.status == RestoreRun.Status.SUCCEEDED, done.error
    assert order_ids(physical.port) == [1, 2, 3, 4, 5]  # the same cluster, same port, back at T
    safety = done.safety_run
    assert safety is not None and safety.status == BackupRun.Status.SUCCEEDED and safety.trigger == "safety"
    assert safety.physical_type == "incr"  # the state before the restore (rows 1-10) is kept in pgBackRest
