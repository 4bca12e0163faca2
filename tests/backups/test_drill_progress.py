"""A restore drill records its progress on its backup's row while it runs, like a backup: bytes decoded, a percent
of the drilled artifacts' raw size and a time left; the run's page and the overview show it, and `verifybackup
--drill` draws it (a bar on a terminal, plain lines otherwise).

The drilled database sits behind a throttled TCP link (tests/backups/test_live_progress.py), so the drill's
pg_restore takes seconds and the test can read the row from its own connection while it runs. No timing is asserted.
"""

from __future__ import annotations

import io
import re
import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupRun
from backups.selectors import backup_run_drill_progress
from backups.services.verify import backup_run_verify
from tests.backups.conftest import current_db_url, make_run, make_user, terminal_output
from tests.backups.test_live_progress import slow_database  # noqa: F401 (a fixture)

MB = 1024 * 1024


@pytest.mark.django_db(transaction=True)
def test_a_running_drill_writes_its_bytes_and_total_on_the_run_then_ends_cleanly(slow_database, run_backup):  # noqa: F811
    backup = run_backup()
    assert backup.status == BackupRun.Status.SUCCEEDED, backup.error
    raw = sum(a.raw_bytes for a in backup.artifacts.filter(kind="database"))
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = backup_run_verify(run_id=backup.pk, drill=True)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    seen = []  # (bytes done, bytes total) while the drill beat, read from our own connection
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        while worker.is_alive():
            beat, done, total = conn.execute(
                "SELECT drill_heartbeat_at, drill_bytes_done, drill_bytes_total FROM backups_backuprun "
                "WHERE id = %s", [backup.pk]).fetchone()
            if beat is not None:
                seen.append((done, total))
            time.sleep(0.05)
    worker.join()
    assert outcome["result"].ok, outcome["result"].problems
    assert seen, "the drill never showed as running"
    assert {total for _, total in seen} == {raw}
    assert any(done > 0 for done, _ in seen)
    live = BackupRun.objects.get(pk=backup.pk)
    assert live.drill_heartbeat_at is None and live.drill_bytes_done == raw  # over: every byte decoded
    progress = backup_run_drill_progress(live)
    assert progress["finished"] and progress["percent"] == 100


@pytest.mark.django_db
def test_the_run_page_and_the_overview_show_a_running_drills_percent_and_time_left(client):
    client.force_login(make_user("root", superuser=True))
    now = timezone.now()
    run = make_run(drill_started_at=now - timedelta(seconds=10), drill_heartbeat_at=now,
                   drill_bytes_done=12 * MB, drill_bytes_total=40 * MB)
    page = client.get(reverse("admin:backups_backuprun_change", args=[run.pk])).content.decode()
    box = page[page.index('id="live-progress"'):]
    box = box[:box.index("</fieldset>")]
    assert reverse("admin:backups_backuprun_drill_progress", args=[run.pk]) in box
    assert "Restore drill in progress" in box
    assert "12.0\xa0MB of about 40.0\xa0MB" in box and "30 %" in box and "about " in box

    data = client.get(reverse("admin:backups_backuprun_drill_progress", args=[run.pk])).json()
    assert data["finished"] is False and data["percent"] == 30 and data["eta_seconds"] > 0
    assert data["fields"]["percent"] == "30 %" and data["fields"]["eta"].startswith("about ")

    overview = client.get(reverse("admin:index")).content.decode()
    drill = overview[overview.index('id="overview-drill"'):]
    drill = drill[:drill.index("</span>")]
    assert f"#{run.pk}</a>" in drill and "running: 12.0\xa0MB of about 40.0\xa0MB decoded" in drill
    assert "(30 %, about " in drill and " left)" in drill


@pytest.mark.django_db
def test_a_drill_whose_worker_stopped_beating_is_not_shown_as_running(client, settings):
    client.force_login(make_user("root", superuser=True))
    stale = timezone.now() - settings.BACKUP_STALE_AFTER - timedelta(minutes=1)
    run = make_run(drill_started_at=stale, drill_heartbeat_at=stale, drill_bytes_done=MB, drill_bytes_total=4 * MB)
    page = client.get(reverse("admin:backups_backuprun_change", args=[run.pk])).content.decode()
    assert 'id="live-progress"' not in page
    assert client.get(reverse("admin:backups_backuprun_drill_progress", args=[run.pk])).json()["finished"] is True
    assert 'id="overview-drill"' not in client.get(reverse("admin:index")).content.decode()


@pytest.mark.django_db(transaction=True)
def test_verifybackup_drill_draws_a_bar_on_a_terminal(backup_dir, run_backup):
    backup = run_backup()
    out = io.StringIO()
    with terminal_output() as (terminal, received):
        call_command("verifybackup", str(backup.pk), "--drill", stderr=terminal, stdout=out)
    text = received.decode()
    redraws = [part for part in text.split("\r\x1b[K") if part.startswith(f"drill of backup #{backup.pk} ")]
    assert redraws, text
    assert "[########################] " in redraws[-1] and "(100 %)" in redraws[-1], text  # the last: all done
    assert f"Backup #{backup.pk} verified." in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_verifybackup_drill_prints_plain_lines_when_not_on_a_terminal(backup_dir, run_backup):
    backup = run_backup()
    err, out = io.StringIO(), io.StringIO()
    call_command("verifybackup", str(backup.pk), "--drill", stderr=err, stdout=out)
    assert "\r" not in err.getvalue() and "\x1b" not in err.getvalue()
    plain = re.compile(rf"drill of backup #{backup.pk}: [\d.]+ [KM]?B of about [\d.]+ [KM]?B \(\d{{1,3}} %\)")
    assert any(plain.fullmatch(line) for line in err.getvalue().splitlines()), err.getvalue()
    assert f"Backup #{backup.pk} verified." in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_verifybackup_without_drill_draws_nothing(backup_dir, run_backup):
    backup = run_backup()
    err = io.StringIO()
    call_command("verifybackup", str(backup.pk), stderr=err, stdout=io.StringIO())
    assert err.getvalue() == ""
