"""Ten people click "Run backup now" at the same instant: real HTTP POSTs with CSRF tokens to a live server."""

from __future__ import annotations

import re
import threading

import httpx
import pytest
from django.contrib.auth.models import User

from backups.models import BackupRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]
CLICKS = 10


def _logged_in(base: str) -> tuple[httpx.Client, str]:
    session = httpx.Client(base_url=base, timeout=30)
    page = session.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post("/admin/login/?next=/admin/", data={"csrfmiddlewaretoken": token, "username": "root",
                                                              "password": "pw", "next": "/admin/"})
    assert answer.status_code == 302, answer.text[:500]
    listing = session.get("/admin/backups/backuprun/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', listing.text).group(1)
    return session, token


def test_ten_simultaneous_clicks_start_exactly_one_backup(live_server, backup_dir):
    User.objects.create_superuser("root", "root@example.com", "pw")
    sessions = [_logged_in(live_server.url) for _ in range(CLICKS)]
    barrier = threading.Barrier(CLICKS)
    answers: list[httpx.Response] = []

    def click(session: httpx.Client, token: str) -> None:
        barrier.wait(timeout=30)
        answers.append(session.post("/admin/backups/backuprun/run-now/", data={"csrfmiddlewaretoken": token},
                                    headers={"Referer": f"{live_server.url}/admin/backups/backuprun/"}))

    threads = [threading.Thread(target=click, args=pair) for pair in sessions]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert [a.status_code for a in answers] == [302] * CLICKS  # every click answered, none crashed
        assert BackupRun.objects.count() == 1
        # Each clicker is told what happened: one "queued", nine "nothing was started" naming the running one.
        said = [session.get("/admin/backups/backuprun/").text for session, _ in sessions]
        assert sum("queued; it runs on the backups queue" in page for page in said) == 1
        assert sum("Nothing was started." in page for page in said) == CLICKS - 1
    finally:
        from opsportal.celery import app

        app.control.purge()  # the one run_backup message: no worker here takes it
        for session, _ in sessions:
            session.close()
