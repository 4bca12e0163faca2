"""The backup history in the admin: badges, human sizes, filters, search, newest first, no query per row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupRun, RestoreRun
from tests.backups.conftest import make_run

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:backups_backuprun_changelist")


def _runs_on_page(response) -> list[int]:
    return [run.pk for run in response.context["cl"].result_list]


def test_the_changelist_shows_badge_duration_human_size_trigger_who_and_verification(super_client):
    user = User.objects.create_user("alice")
    run = make_run(
        total_bytes=5 * 1024 * 1024,
        trigger=BackupRun.Trigger.MANUAL,
        triggered_by=user,
        triggered_by_name="alice",
        verification=BackupRun.Verification.DRILL_PASSED,
        drill_rto_seconds=12.34,
        pinned=True,
    )
    failed = make_run(status=BackupRun.Status.FAILED, error="disk full")

    page = super_client.get(CHANGELIST).content.decode()

    assert 'class="backup-status backup-status-succeeded"' in page
    assert 'class="backup-status backup-status-failed"' in page
    assert "5.0\xa0MB" in page  # filesizeformat, not a raw byte count
    assert "1 min 15 s" in page
    assert "alice" in page and "manual" in page
    assert "drill ok, RTO 12.3 s" in page
    assert f">{run.pk}<" in page and f">{failed.pk}<" in page
    assert "Retention policy: keep the last" in page


def test_newest_first_filters_and_search_by_id(super_client):
    now = timezone.now()
    old = make_run(created_at=now - timedelta(days=3), trigger=BackupRun.Trigger.CLI)
    middle = make_run(created_at=now - timedelta(days=2), status=BackupRun.Status.FAILED)
    new = make_run(created_at=now - timedelta(hours=1))

    assert _runs_on_page(super_client.get(CHANGELIST)) == [new.pk, middle.pk, old.pk]
    assert _runs_on_page(super_client.get(CHANGELIST, {"status__exact": "failed"})) == [middle.pk]
    assert _runs_on_page(super_client.get(CHANGELIST, {"trigger__exact": "cli"})) == [old.pk]
    since = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
    assert _runs_on_page(super_client.get(CHANGELIST, {"created_at__gte": since})) == [new.pk]
    assert _runs_on_page(super_client.get(CHANGELIST, {"q": str(middle.pk)})) == [middle.pk]
    assert _runs_on_page(super_client.get(CHANGELIST, {"q": f"#{old.pk}"})) == [old.pk]
    assert _runs_on_page(super_client.get(CHANGELIST, {"q": "not-a-number"})) == []


def test_the_changelist_makes_the_same_number_of_queries_for_3_or_120_runs(super_client):
    def queries_for_listing() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = super_client.get(CHANGELIST)
        assert response.status_code == 200
        return len(captured)

    user = User.objects.create_user("bob")
    for index in range(3):
        make_run(triggered_by=user, triggered_by_name="bob", total_bytes=index)
    few = queries_for_listing()
    for index in range(117):
        make_run(triggered_by=user, triggered_by_name="bob", total_bytes=index)
        if index % 10 == 0:
            RestoreRun.objects.create(source_run=BackupRun.objects.first(), target="x", status="succeeded")
    assert queries_for_listing() == few
    # The full count of 100,000 runs is skipped: the page says "Show all" rather than counting them twice.
    assert super_client.get(CHANGELIST).context["cl"].show_full_result_count is False


def test_the_restore_changelist_is_read_only_and_makes_no_query_per_row(super_client):
    run = make_run()
    for _ in range(3):
        RestoreRun.objects.create(source_run=run, target="database:x", status="refused", error="checksum")
    url = reverse("admin:backups_restorerun_changelist")
    with CaptureQueriesContext(connection) as few:
        assert super_client.get(url).status_code == 200
    for _ in range(40):
        RestoreRun.objects.create(source_run=make_run(), target="database:x", status="succeeded")
    with CaptureQueriesContext(connection) as many:
        page = super_client.get(url)
    assert len(many) == len(few)
    assert b"refused" in page.content
    restore = RestoreRun.objects.first()
    detail = super_client.get(reverse("admin:backups_restorerun_change", args=[restore.pk]))
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert super_client.get(reverse("admin:backups_restorerun_add")).status_code == 403


def test_neither_changelist_reads_a_log(super_client):
    """Logs can be megabytes each; a page of 100 runs must not read them (the run's own page shows its log)."""
    long_log = "pg_dump: dumping contents of table\n" * 30_000
    run = make_run(log=long_log, verification_detail=long_log)
    RestoreRun.objects.create(source_run=run, target="database:x", status="succeeded", log=long_log)
    for url in (CHANGELIST, reverse("admin:backups_restorerun_changelist")):
        with CaptureQueriesContext(connection) as captured:
            assert super_client.get(url).status_code == 200
        read = [q["sql"] for q in captured.captured_queries if '"log"' in q["sql"] or "verification_detail" in q["sql"]]
        assert read == [], url
    page = super_client.get(reverse("admin:backups_backuprun_change", args=[run.pk]))
    assert "pg_dump: dumping contents of table" in page.content.decode()
