"""The catalog is an index of storage: re-indexing skips (and reports) what it cannot read, and brings back every
fact kept beside a backup (verification, drill and RTO, restores made from it)."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command

from backups import manifest
from backups.models import BackupRun, RestoreRun
from backups.services.catalog import backup_catalog_reindex
from backups.services.restore import restore_run_create_and_execute
from backups.services.verify import backup_run_verify
from backups.signals import restore_finished
from tests.backups.s3 import Bucket

pytestmark = pytest.mark.django_db(transaction=True)


def _clone(backup_dir: Path, run: BackupRun, folder: str) -> Path:
    """A copy of the run's folder under another name, with a manifest of its own (new UUID, paths in the copy)."""
    target = backup_dir / folder
    shutil.copytree(backup_dir / run.storage_prefix, target)
    data = json.loads((target / manifest.MANIFEST_NAME).read_text())
    data["run"]["uuid"] = str(uuid.uuid4())
    data["run"]["id"] = None
    for artifact in data["artifacts"]:
        artifact["path"] = artifact["path"].replace(run.storage_prefix, folder, 1)
    (target / manifest.MANIFEST_NAME).write_text(json.dumps(data))
    return target


def _artifact_file(folder: Path) -> Path:
    (path,) = [p for p in folder.iterdir() if p.name.endswith(".zst")]
    return path


def test_reindex_skips_and_reports_every_folder_it_cannot_read_and_rebuilds_the_rest(backup_dir, run_backup):
    good = run_backup()
    (backup_dir / "bad-json").mkdir()
    (backup_dir / "bad-json" / manifest.MANIFEST_NAME).write_text('{"format": "opsportal-backup-manifest", ')
    (backup_dir / "no-keys").mkdir()
    (backup_dir / "no-keys" / manifest.MANIFEST_NAME).write_text(json.dumps({"format": manifest.FORMAT}))
    (backup_dir / "foreign").mkdir()
    (backup_dir / "foreign" / "notes.txt").write_text("not a backup")
    _artifact_file(_clone(backup_dir, good, "truncated")).write_bytes(b"short")
    _artifact_file(_clone(backup_dir, good, "missing-file")).unlink()
    copy = _clone(backup_dir, good, "a-good-copy")
    BackupRun.objects.all().delete()

    out = io.StringIO()
    call_command("backup", "--reindex", stdout=out)

    rebuilt = {run.storage_prefix: run for run in BackupRun.objects.all()}
    assert set(rebuilt) == {good.storage_prefix, copy.name}
    assert rebuilt[good.storage_prefix].uuid == good.uuid
    assert rebuilt[good.storage_prefix].status == BackupRun.Status.SUCCEEDED
    printed = out.getvalue()
    assert "Re-indexed 2 backup(s)" in printed
    lines = {line.split(":", 1)[0].strip(): line for line in printed.splitlines() if ":" in line}
    assert "not valid JSON" in lines["bad-json"]
    assert "missing" in lines["no-keys"] and "run" in lines["no-keys"]
    assert "no manifest" in lines["foreign"]
    assert "bytes" in lines["truncated"] and "5" in lines["truncated"]
    assert "missing from storage" in lines["missing-file"]


def test_reindex_refuses_a_manifest_whose_files_are_outside_its_folder(backup_dir, run_backup):
    good = run_backup()
    crafted = _clone(backup_dir, good, "crafted")
    data = json.loads((crafted / manifest.MANIFEST_NAME).read_text())
    data["artifacts"][0]["path"] = good.artifacts.get().path  # the other run's (existing, same size) file
    (crafted / manifest.MANIFEST_NAME).write_text(json.dumps(data))
    BackupRun.objects.all().delete()

    report = backup_catalog_reindex()

    assert [run.uuid for run in report.runs] == [good.uuid]
    (skipped,) = report.skipped
    assert skipped.folder == "crafted" and "outside" in skipped.reason


def test_an_in_place_restore_of_the_portal_database_ends_well_despite_a_malformed_manifest(backup_dir, run_backup):
    run = run_backup()
    (backup_dir / "broken").mkdir()
    (backup_dir / "broken" / manifest.MANIFEST_NAME).write_text("{")

    restore = restore_run_create_and_execute(run_id=run.pk, actor="test")

    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert "broken" in restore.log and "not valid JSON" in restore.log
    assert BackupRun.objects.get(pk=run.pk).status == BackupRun.Status.SUCCEEDED


VERIFICATION_FIELDS = ("verification", "verified_at", "verification_detail", "drill_rto_seconds")
RESTORE_FIELDS = (
    "created_at", "started_at", "finished_at", "triggered_by_name", "target", "only", "status", "error"
)


def _values(obj, fields: tuple[str, ...]) -> dict:
    return {name: getattr(obj, name) for name in fields}


def test_verification_drill_rto_and_restores_come_back_when_the_catalog_is_rebuilt_from_storage(
    backup_dir, run_backup, new_database_url
):
    run = run_backup()
    assert backup_run_verify(run_id=run.pk, drill=True).ok
    restore = restore_run_create_and_execute(run_id=run.pk, into=new_database_url(), actor="alice")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    refused = restore_run_create_and_execute(run_id=run.pk, only="file:nothing", actor="bob")
    assert refused.status == RestoreRun.Status.REFUSED
    run.refresh_from_db()
    assert run.verification == BackupRun.Verification.DRILL_PASSED and run.drill_rto_seconds is not None
    before = {r.pk: _values(r, RESTORE_FIELDS) for r in RestoreRun.objects.all()}

    # A new machine: an empty catalog, the same storage. Re-indexing twice changes nothing the second time.
    RestoreRun.objects.all().delete()
    BackupRun.objects.all().delete()
    backup_catalog_reindex()
    report = backup_catalog_reindex()

    assert report.skipped == []
    rebuilt = BackupRun.objects.get(uuid=run.uuid)
    assert _values(rebuilt, VERIFICATION_FIELDS) == _values(run, VERIFICATION_FIELDS)
    after = {r.pk: _values(r, RESTORE_FIELDS) for r in RestoreRun.objects.filter(source_run=rebuilt)}
    assert after == before
    assert RestoreRun.objects.count() == 2


def test_an_in_place_restore_keeps_the_drill_result_rto_and_earlier_restores_of_the_backup(backup_dir, run_backup):
    run = run_backup()  # the dump inside holds this run unverified and no restore at all
    drilled = backup_run_verify(run_id=run.pk, drill=True).run
    first = restore_run_create_and_execute(run_id=run.pk, actor="alice")
    second = restore_run_create_and_execute(run_id=run.pk, actor="bob")

    assert (first.status, second.status) == (RestoreRun.Status.SUCCEEDED, RestoreRun.Status.SUCCEEDED)
    restored = BackupRun.objects.get(uuid=run.uuid)
    assert _values(restored, VERIFICATION_FIELDS) == _values(drilled, VERIFICATION_FIELDS)
    history = RestoreRun.objects.filter(source_run=restored).order_by("created_at")
    assert [(r.triggered_by_name, r.status) for r in history] == [("alice", "succeeded"), ("bob", "succeeded")]
    assert [r.pk for r in history] == [first.pk, second.pk]


def test_an_unreadable_sidecar_is_reported_and_its_backup_still_indexed(backup_dir, run_backup):
    run = run_backup()
    folder = backup_dir / run.storage_prefix
    (folder / "verification.json").write_text("{")
    (folder / "restore-20260101T000000000000Z.json").write_text(json.dumps({"format": "opsportal-backup-restore"}))
    BackupRun.objects.all().delete()

    report = backup_catalog_reindex()

    assert [r.uuid for r in report.runs] == [run.uuid]
    reasons = {skipped.folder: skipped.reason for skipped in report.skipped}
    assert "not valid JSON" in reasons[f"{run.storage_prefix}/verification.json"]
    assert "missing" in reasons[f"{run.storage_prefix}/restore-20260101T000000000000Z.json"]
    assert RestoreRun.objects.count() == 0


def test_a_failing_restore_finished_receiver_does_not_fail_a_restore_of_the_portal_database(backup_dir, run_backup):
    run = run_backup()

    def broken(sender, restore, **kwargs):
        raise RuntimeError("a receiver with a bug")

    restore_finished.connect(broken, weak=False, dispatch_uid="broken")
    try:
        restore = restore_run_create_and_execute(run_id=run.pk, actor="test")
    finally:
        restore_finished.disconnect(dispatch_uid="broken")

    assert restore.status == RestoreRun.Status.SUCCEEDED
    assert RestoreRun.objects.get(pk=restore.pk).status == RestoreRun.Status.SUCCEEDED


def test_on_s3_the_sidecars_come_back_and_a_folder_with_a_missing_object_is_skipped(s3_bucket, run_backup):
    kept, broken = run_backup(), run_backup()
    verified = backup_run_verify(run_id=kept.pk).run
    assert Bucket.key(f"{kept.storage_prefix}/verification.json") in s3_bucket.objects()
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=Bucket.key(broken.artifacts.get().path))
    s3_bucket.put(Bucket.key("foreign/readme.txt"), b"not a backup")
    BackupRun.objects.all().delete()

    report = backup_catalog_reindex()

    assert [run.uuid for run in report.runs] == [kept.uuid]
    assert _values(report.runs[0], VERIFICATION_FIELDS) == _values(verified, VERIFICATION_FIELDS)
    reasons = {skipped.folder: skipped.reason for skipped in report.skipped}
    assert "missing from storage" in reasons[broken.storage_prefix]
    assert "no manifest" in reasons["foreign"]
