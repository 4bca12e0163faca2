"""Backups on S3: django-storages' S3Storage against a real S3 server (tests/backups/s3.py), checked with boto3.

Every test goes through the product's own paths (backup run, verify, drill, restore, prune, reaper); the bucket is
then inspected independently: objects, their bytes and sha256, versions, unfinished multipart uploads.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import zstandard
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from backups.models import BackupRun, RestoreRun
from backups.pipeline import READ_AHEAD
from backups.services.backup import backup_run_create, backup_run_enqueue, backup_run_execute
from backups.services.reaper import backup_runs_reap_stale
from backups.services.restore import restore_run_create_and_execute
from backups.services.verify import backup_run_verify
from backups.storage import MAX_PARTS, backup_storage, part_size
from backups.tasks import prune_backups
from tests.backups.conftest import current_db_url, files_under
from tests.backups.s3 import Bucket
from tests.conftest import pg_dumps_running, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1 << 20
SECRET_LINE = "SECRET_KEY=s3-test-secret-do-not-leak"


@pytest.fixture
def env_file(settings, tmp_path) -> Path:
    """A .env to back up beside the database, as a deployment has."""
    path = tmp_path / "portal" / ".env"
    path.parent.mkdir()
    path.write_text(f"{SECRET_LINE}\nDEBUG=false\n")
    path.chmod(0o600)
    settings.BACKUP_FILES = [str(path)]
    return path


def unzstd(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def test_a_full_backup_lands_in_the_bucket_with_the_recorded_sizes_and_sha256(
    s3_bucket, env_file, backup_dir, run_backup
):
    run = run_backup()

    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    artifacts = list(run.artifacts.order_by("path"))
    assert [a.kind for a in artifacts] == ["database", "file"]
    manifest_key = Bucket.key(f"{run.storage_prefix}/manifest.json")
    objects = s3_bucket.objects()
    assert set(objects) == {Bucket.key(a.path) for a in artifacts} | {manifest_key}
    for artifact in artifacts:
        key = Bucket.key(artifact.path)
        assert s3_bucket.sha256(key) == (artifact.sha256, artifact.stored_bytes)
        assert objects[key] == artifact.stored_bytes
    assert run.total_bytes == sum(a.stored_bytes for a in artifacts)
    stored_manifest = json.loads(s3_bucket.get(manifest_key))
    assert {item["path"]: item["sha256"] for item in stored_manifest["artifacts"]} == {
        a.path: a.sha256 for a in artifacts
    }
    env_artifact = run.artifacts.get(kind="file")
    assert unzstd(s3_bucket.get(Bucket.key(env_artifact.path))) == env_file.read_bytes()
    assert s3_bucket.uploads() == []  # no multipart upload left open
    assert files_under(backup_dir) == []  # nothing went to the local folder

    # The catalog can be rebuilt from the bucket alone (listing by prefix, reading each manifest).
    BackupRun.objects.all().delete()
    call_command("backup", "--reindex")
    rebuilt = BackupRun.objects.get(uuid=run.uuid)
    assert rebuilt.status == BackupRun.Status.SUCCEEDED
    assert sorted((a.path, a.sha256) for a in rebuilt.artifacts.all()) == sorted(
        (a.path, a.sha256) for a in artifacts
    )


def test_verification_reads_the_objects_back_and_a_corrupted_object_fails_it_clearly(
    s3_bucket, env_file, run_backup, new_database_url
):
    run = run_backup()
    result = backup_run_verify(run_id=run.pk)
    assert result.ok, result.problems
    assert result.run.verification == BackupRun.Verification.VERIFIED

    artifact = run.artifacts.get(kind="database")
    key = Bucket.key(artifact.path)
    data = bytearray(s3_bucket.get(key))
    data[len(data) // 2] ^= 0x01  # one flipped bit, same size
    s3_bucket.put(key, bytes(data))

    with pytest.raises(CommandError, match="failed verification"):
        call_command("verifybackup", str(run.pk))
    run.refresh_from_db()
    assert run.verification == BackupRun.Verification.FAILED
    assert f"{artifact.path} is corrupt" in run.verification_detail
    assert artifact.sha256 in run.verification_detail  # the expected checksum, beside the one found

    restore = restore_run_create_and_execute(run_id=run.pk, into=new_database_url())
    assert restore.status == RestoreRun.Status.REFUSED
    assert "corrupt" in restore.error and artifact.path in restore.error

    env_artifact = run.artifacts.get(kind="file")
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=Bucket.key(env_artifact.path))
    result = backup_run_verify(run_id=run.pk)
    assert f"{env_artifact.path} is missing from storage." in result.problems


def test_a_source_failing_after_another_was_stored_leaves_nothing_in_the_bucket(s3_bucket, settings, run_backup):
    # Reading /proc/self/mem from offset 0 fails with EIO: a real read error, after the database is already stored.
    unreadable = str(Path("/proc/self/mem").resolve())
    settings.BACKUP_FILES = [unreadable]

    run = run_backup()

    assert run.status == BackupRun.Status.FAILED
    assert run.error.startswith(f"file:{unreadable}: ") and "Input/output error" in run.error
    assert "removed 1 file(s) of this run" in run.log  # the database artifact, stored before the failure
    assert s3_bucket.objects() == {}
    assert s3_bucket.uploads() == []
    assert not run.artifacts.exists()


def test_a_failing_source_leaves_not_even_a_version_in_a_versioned_bucket(s3_versioned_bucket, settings, run_backup):
    unreadable = str(Path("/proc/self/mem").resolve())
    settings.BACKUP_DATABASES = []
    settings.BACKUP_FILES = [unreadable]

    run = run_backup()

    assert run.status == BackupRun.Status.FAILED and run.error.startswith(f"file:{unreadable}: ")
    # Nothing was ever written under the key: no object, no version, no delete marker, no open upload.
    assert s3_versioned_bucket.versions() == []
    assert s3_versioned_bucket.uploads() == []


@pytest.fixture
def incompressible_table(django_db_blocker):
    """96 MiB of random bytea in the test database: pg_dump streams it for a few seconds, in many upload parts."""
    url = current_db_url()
    with django_db_blocker.unblock(), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.bk_s3_blobs (id int PRIMARY KEY, data bytea NOT NULL)")
        with conn.cursor() as cursor:
            for index in range(24):
                cursor.execute("INSERT INTO public.bk_s3_blobs VALUES (%s, %s)", [index, os.urandom(4 * MiB)])
    yield
    with django_db_blocker.unblock(), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.bk_s3_blobs")


@pytest.mark.faults
def test_pg_dump_killed_mid_upload_aborts_the_multipart_upload_and_leaves_no_version(
    s3_versioned_bucket, settings, incompressible_table
):
    run = backup_run_create(trigger=BackupRun.Trigger.CLI)
    finished: list[BackupRun] = []

    def back_up() -> None:
        try:
            finished.append(backup_run_execute(run_id=run.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=back_up)
    worker.start()
    try:
        wait_for(lambda: s3_versioned_bucket.parts() >= 1, timeout=60, interval=0.05, what="a part to be uploaded")
        killed = pg_dumps_running()
        assert killed, "pg_dump finished before it could be killed"
        for process in killed:
            process.send_signal(signal.SIGKILL)
    finally:
        worker.join(timeout=120)

    assert finished and finished[0].status == BackupRun.Status.FAILED
    assert finished[0].error.startswith("database:default: pg_dump exited with -9")
    assert s3_versioned_bucket.uploads() == []  # aborted: its parts are gone
    assert s3_versioned_bucket.versions() == []  # never completed, so never an object, not even a version


def test_prune_deletes_the_objects_of_the_runs_it_prunes(s3_bucket, settings, run_backup):
    settings.BACKUP_KEEP_LAST = 1
    settings.BACKUP_KEEP_DAILY = 1
    settings.BACKUP_KEEP_WEEKLY = 0
    settings.BACKUP_KEEP_MONTHLY = 0
    old = run_backup()
    BackupRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=50))
    new = run_backup()
    assert {key.split("/")[1] for key in s3_bucket.objects()} == {old.storage_prefix, new.storage_prefix}

    assert prune_backups() == 1

    assert list(BackupRun.objects.values_list("pk", flat=True)) == [new.pk]
    keys = s3_bucket.objects()
    assert keys and all(key.startswith(Bucket.key(new.storage_prefix) + "/") for key in keys)


def test_restore_reads_database_and_env_back_from_the_bucket(s3_bucket, env_file, run_backup):
    User = get_user_model()
    User.objects.create_user("alice")
    run = run_backup()
    User.objects.filter(username="alice").delete()
    User.objects.create_user("bob")
    original_env = env_file.read_bytes()
    env_file.write_text("SECRET_KEY=changed-after-the-backup\n")

    restore = restore_run_create_and_execute(run_id=run.pk)

    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert set(User.objects.values_list("username", flat=True)) == {"alice"}
    assert env_file.read_bytes() == original_env
    kept = [p for p in env_file.parent.iterdir() if p.name.startswith(".env.before-restore-")]
    assert len(kept) == 1 and kept[0].read_text() == "SECRET_KEY=changed-after-the-backup\n"
    # The safety backup went to the bucket too, and the catalog was re-indexed from the bucket's manifests.
    safety = restore.safety_run
    assert safety.status == BackupRun.Status.SUCCEEDED and safety.trigger == BackupRun.Trigger.SAFETY
    safety_db = safety.artifacts.get()
    assert s3_bucket.sha256(Bucket.key(safety_db.path)) == (safety_db.sha256, safety_db.stored_bytes)
    assert BackupRun.objects.get(pk=run.pk).status == BackupRun.Status.SUCCEEDED
    assert "catalog re-indexed from storage: 2 run(s)" in restore.log


def test_an_encrypted_backup_on_s3_is_unreadable_there_and_passes_a_restore_drill(
    s3_bucket, encrypted, env_file, run_backup
):
    run = run_backup()

    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    for artifact in run.artifacts.all():
        data = s3_bucket.get(Bucket.key(artifact.path))
        assert artifact.encrypted and artifact.path.endswith(".zst.age")
        assert data.startswith(b"age-encryption.org/v1\n")
        assert SECRET_LINE.encode() not in data and b"auth_user" not in data
        assert hashlib.sha256(data).hexdigest() == artifact.sha256

    result = backup_run_verify(run_id=run.pk, drill=True)

    assert result.ok, result.problems
    assert result.run.verification == BackupRun.Verification.DRILL_PASSED
    assert result.run.drill_rto_seconds and result.run.drill_rto_seconds > 0
    assert "row counts compared" in result.run.verification_detail


def test_a_large_artifact_goes_up_in_parts_and_comes_back_in_bounded_memory(s3_bucket, settings, tmp_path, run_backup):
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:
        for _ in range(40):
            out.write(os.urandom(MiB))
    settings.BACKUP_DATABASES = []
    settings.BACKUP_FILES = [str(big)]
    # boto3 loads its S3 service model (about 15 MiB of Python objects) once per client: not the upload's cost.
    assert not backup_storage().exists("warm-up")

    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        run = run_backup()
        upload_peak = tracemalloc.get_traced_memory()[1] - baseline
        artifact = run.artifacts.get()
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        result = backup_run_verify(run_id=run.pk)
        verify_peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()

    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    assert result.ok, result.problems
    assert artifact.stored_bytes > 40 * MiB
    etag = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=Bucket.key(artifact.path))["ETag"]
    assert etag.strip('"').endswith(f"-{artifact.stored_bytes // part_size(1) + 1}")  # parts of 8 MiB and the rest
    print(f"peak Python memory: upload {upload_peak / MiB:.1f} MiB, verify {verify_peak / MiB:.1f} MiB "
          f"for a {artifact.stored_bytes / MiB:.1f} MiB artifact")
    # About one part, the source's read-ahead and 1 MiB buffers, not the artifact.
    assert upload_peak < 2 * part_size(1) + READ_AHEAD
    assert verify_peak < 8 * MiB  # streamed in 1 MiB chunks, not downloaded whole


def test_the_storage_object_parameters_reach_every_object_sent_whole_or_in_parts(
    s3_bucket, settings, tmp_path, run_backup
):
    # What S3Storage would send with a save (AWS_S3_OBJECT_PARAMETERS / "object_parameters" in the options): server-side
    # encryption, a storage class, metadata; the manifest goes up with one PUT, the artifact as a multipart upload.
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * MiB))
    settings.BACKUP_DATABASES = []
    settings.BACKUP_FILES = [str(big)]
    parameters = {"ServerSideEncryption": "AES256", "StorageClass": "STANDARD_IA", "Metadata": {"origin": "opsportal"}}
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**s3_bucket.storage_options(), "object_parameters": parameters},
        },
    }

    run = run_backup()

    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    artifact_key = Bucket.key(run.artifacts.get().path)
    manifest_key = Bucket.key(f"{run.storage_prefix}/manifest.json")
    assert set(s3_bucket.objects()) == {artifact_key, manifest_key}
    for key, parts in ((artifact_key, "-2"), (manifest_key, None)):
        head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
        assert head["StorageClass"] == "STANDARD_IA"
        assert head["Metadata"] == {"origin": "opsportal"}
        assert (head["ETag"].strip('"').endswith(parts)) if parts else "-" not in head["ETag"]


def test_part_sizes_allow_artifacts_of_hundreds_of_gib_within_s3_limits():
    sizes = [part_size(number) for number in range(1, MAX_PARTS + 1)]
    assert min(sizes) >= 5 * MiB and max(sizes) <= 5 * 1024 * MiB  # S3's limits for every part but the last
    assert sum(sizes) > 450 * 1024 * MiB
    assert sum(sizes[:1800]) > 14 * 1024 * MiB and max(sizes[:2000]) == 8 * MiB  # 8 MiB parts up to ~15 GiB


@pytest.mark.faults
def test_a_worker_killed_mid_upload_leaves_an_unfinished_upload_the_reaper_aborts(
    s3_bucket, settings, tmp_path, celery_worker_process
):
    # The worker is configured through the environment, as a deployment is: BACKUP_STORAGE_BACKEND and _OPTIONS,
    # with the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY rather than in the options.
    slow = tmp_path / "slow.env"
    os.mkfifo(slow)
    options = s3_bucket.storage_options()
    worker = celery_worker_process(
        queues="backups",
        extra_env={
            "BACKUP_STORAGE_BACKEND": "storages.backends.s3.S3Storage",
            "BACKUP_STORAGE_OPTIONS": json.dumps({k: v for k, v in options.items() if not k.endswith("_key")}),
            "AWS_ACCESS_KEY_ID": options["access_key"],
            "AWS_SECRET_ACCESS_KEY": options["secret_key"],
            "BACKUP_DATABASES": "",
            "BACKUP_FILES": str(slow),
            "BACKUP_PROGRESS_EVERY": "200ms",
        },
    )
    feeder = os.open(slow, os.O_RDWR)  # held open, never closed before the kill: the backup never sees EOF

    def feed() -> None:
        for _ in range(12):
            os.write(feeder, os.urandom(MiB))

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        run = backup_run_enqueue(trigger=BackupRun.Trigger.API)
        wait_for(lambda: s3_bucket.parts() >= 1, timeout=60, what="the worker to upload a first part")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        writer.join(timeout=30)
        os.close(feeder)

    prefix = Bucket.key(BackupRun.objects.get(pk=run.pk).storage_prefix)
    [unfinished] = s3_bucket.uploads()
    assert unfinished.startswith(f"{prefix}/") and unfinished.endswith(".file.zst")
    assert s3_bucket.objects() == {}  # an unfinished upload is no object
    settings.BACKUP_STALE_AFTER = timedelta(seconds=1)
    time.sleep(1.5)
    assert [r.pk for r in backup_runs_reap_stale()] == [run.pk]
    run.refresh_from_db()
    assert run.status == BackupRun.Status.FAILED and "worker lost" in run.error
    assert s3_bucket.uploads() == []
    assert s3_bucket.objects() == {}
