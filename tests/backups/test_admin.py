"""The admin shows the history of backups and restores, read-only (the full admin experience is issue 4)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from backups.models import BackupRun, RestoreRun

pytestmark = pytest.mark.django_db


def test_runs_and_restores_are_listed_and_cannot_be_added_or_edited(admin_client):
    run = BackupRun.objects.create(status=BackupRun.Status.SUCCEEDED, trigger=BackupRun.Trigger.CLI)
    run.artifacts.create(
        kind="database",
        name="default",
        path="x/01-database-default.pgdump.zst",
        sha256="ab" * 32,
        format="pg_dump-custom",
        stored_bytes=10,
        raw_bytes=20,
    )
    RestoreRun.objects.create(
        source_run=run, target="database:postgres://db/opsportal", status="refused", error="checksum"
    )

    listing = admin_client.get(reverse("admin:backups_backuprun_changelist"))
    assert listing.status_code == 200 and b"succeeded" in listing.content
    detail = admin_client.get(reverse("admin:backups_backuprun_change", args=[run.pk]))
    assert detail.status_code == 200 and b"01-database-default.pgdump.zst" in detail.content
    assert b'name="_save"' not in detail.content
    assert admin_client.get(reverse("admin:backups_backuprun_add")).status_code == 403
    restores = admin_client.get(reverse("admin:backups_restorerun_changelist"))
    assert restores.status_code == 200 and b"refused" in restores.content
