"""S3 that stops answering (a frozen proxy: connections stay open, nothing moves) or goes away (the proxy is closed)
in the middle of an upload: the run fails with the real cause within bounded time, `backup_failed` is sent, and no
unfinished upload is left once S3 is back (the journal retries the cleanup on the next reaper tick).

The S3 server is real (moto's server, tests/backups/s3.py); between it and the portal sits a TCP proxy of this test's
own (tests/backups/tcp_proxy.py). The bucket is inspected directly, around the proxy.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.urls import reverse

from alerting.models import AlertEvent
from backups.models import BackupRun
from backups.services.backup import backup_run_create, backup_run_execute
from backups.services.journal import journal_entries
from backups.tasks import reap_stale_runs
from tests.backups.conftest import make_user
from tests.backups.s3 import Bucket
from tests.backups.tcp_proxy import FreezableProxy
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]
MiB = 1 << 20


@pytest.fixture
def proxy(s3_endpoint) -> Iterator[FreezableProxy]:
    target = urlsplit(s3_endpoint)
    started = FreezableProxy(target.hostname, target.port)
    yield started
    started.close()


@pytest.fixture
def bucket_behind_proxy(settings, backup_dir, s3_endpoint, proxy, tmp_path) -> tuple[Bucket, Path]:
    """A bucket the portal reaches through the proxy only; a 48 MiB incompressible file to back up (six parts)."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:
        for _ in range(48):
            out.write(os.urandom(MiB))
    settings.BACKUP_DATABASES = []
    settings.BACKUP_FILES = [str(big)]
    # Long enough for a loaded machine to set up the S3 client; the stall test shortens it once bytes flow.
    settings.BACKUP_STALL_AFTER = timedelta(seconds=60)
    settings.BACKUP_S3_TIMEOUT = timedelta(seconds=3)
    settings.BACKUP_S3_ATTEMPTS = 2
    settings.BACKUP_CLEANUP_TIMEOUT = timedelta(seconds=4)
    bucket = Bucket(s3_endpoint)
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**bucket.storage_options(), "endpoint_url": proxy.url},
        },
    }
    return bucket, big


def start_backup() -> tuple[BackupRun, threading.Thread, list]:
    run = backup_run_create(trigger=BackupRun.Trigger.CLI)
    finished: list[BackupRun | None] = []

    def back_up() -> None:
        try:
            finished.append(backup_run_execute(run_id=run.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=back_up, daemon=True)
    thread.start()
    return run, thread, finished


def failed(run: BackupRun) -> BackupRun | None:
    run.refresh_from_db()
    return run if run.status == BackupRun.Status.FAILED else None


def test_a_frozen_s3_endpoint_fails_the_run_as_stalled_within_bounded_time_and_leaves_no_upload(
    bucket_behind_proxy, proxy, client, settings
):
    bucket, big = bucket_behind_proxy
    run, thread, finished = start_backup()
    wait_for(lambda: bucket.parts() >= 1, timeout=120, interval=0.05, what="a first part to reach S3")

    proxy.freeze()
    settings.BACKUP_STALL_AFTER = timedelta(seconds=2)  # read by the watchdog at every beat

    # Failed by the stall watchdog, although the streaming thread is still blocked on the frozen connection.
    wait_for(lambda: failed(run), timeout=60, what="the stalled run to be failed")
    match = re.fullmatch(rf"file:{re.escape(str(big))}: stalled at (\d+) bytes for (\d+) s", run.error)
    assert match, run.error
    assert int(match.group(1)) >= 8 * MiB and int(match.group(2)) >= 2
    # backup_failed follows the write of the failure (announced after the outcome is saved)
    wait_for(lambda: AlertEvent.objects.filter(event="backup_failed", labels={"source": f"file:{big}"}).exists(),
             timeout=30, what="the backup_failed event")
    assert backup_run_create(trigger=BackupRun.Trigger.CLI)  # the next backup is accepted at once
    BackupRun.objects.filter(status=BackupRun.Status.QUEUED).delete()

    client.force_login(make_user("root", superuser=True))
    page = client.get(reverse("admin:backups_backuprun_change", args=[run.pk])).content.decode()
    assert "stalled at" in page

    # The streaming thread ends too: every S3 call is bounded (BACKUP_S3_TIMEOUT x BACKUP_S3_ATTEMPTS), and so is
    # its cleanup (BACKUP_CLEANUP_TIMEOUT), against an endpoint that is still frozen.
    thread.join(timeout=120)
    assert not thread.is_alive(), "the backup thread is still blocked on the frozen endpoint"
    (result,) = finished
    assert result.status == BackupRun.Status.FAILED and result.error == run.error  # the first error stands
    assert [entry.run_id for entry in journal_entries()] == [run.pk]  # its cleanup could not finish: journalled

    proxy.thaw()
    reap_stale_runs()  # the reaper tick retries the journalled cleanup

    assert bucket.uploads() == []
    assert bucket.objects() == {}
    assert journal_entries() == []
    run.refresh_from_db()
    assert run.error == result.error


def test_an_s3_outage_mid_upload_fails_the_run_naming_s3_and_the_upload_is_aborted_once_s3_is_back(
    bucket_behind_proxy, proxy, s3_endpoint
):
    bucket, big = bucket_behind_proxy
    run, thread, finished = start_backup()
    wait_for(lambda: bucket.parts() >= 1, timeout=120, interval=0.05, what="a first part to reach S3")

    proxy.close()  # connections reset, the port refuses: the cleanup's listing fails as the upload did
    thread.join(timeout=120)

    assert not thread.is_alive()
    (result,) = finished
    assert result.status == BackupRun.Status.FAILED
    assert result.error.startswith(f"file:{big}: ")
    assert re.search(r"endpoint|connect|Connection", result.error), result.error  # the S3 cause, not the cleanup's
    assert "worker lost" not in result.error
    assert AlertEvent.objects.filter(event="backup_failed", labels={"source": f"file:{big}"}).exists()
    assert bucket.uploads()  # S3 still holds the unfinished upload: nobody could reach it to abort it
    assert "could not remove the files of this run" in result.log

    target = urlsplit(s3_endpoint)
    back = FreezableProxy(target.hostname, target.port, port=proxy.port)  # S3 answers again at the same address
    try:
        reap_stale_runs()
    finally:
        back.close()

    assert bucket.uploads() == []
    assert bucket.objects() == {}
    assert journal_entries() == []
    run.refresh_from_db()
    assert run.error == result.error
