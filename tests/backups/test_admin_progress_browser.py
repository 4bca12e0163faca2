"""In real Chromium: a running backup's page updates its progress by itself, and shows the outcome when it ends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from backups.models import BackupRun
from performance.probes.page import CHROMIUM_ARGS
from tests.backups.conftest import make_run, make_user

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = "/usr/bin/chromium"


def update_run(pk: int, **fields) -> None:
    """Write as the worker would, from another thread: Playwright's event loop forbids the ORM in this one."""

    def write() -> None:
        try:
            BackupRun.objects.filter(pk=pk).update(**fields)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(write).result()


def test_the_progress_box_follows_the_run_without_a_reload(live_server):
    client = Client()
    client.force_login(make_user("root", superuser=True))
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    run = make_run(status=BackupRun.Status.RUNNING, bytes_done=1024, current_artifact="database:default")
    url = live_server.url + reverse("admin:backups_backuprun_change", args=[run.pk])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            loads = []
            page.on("load", lambda: loads.append(1))
            page.goto(url)
            box = page.locator("#live-progress")
            expect(box.locator('[data-field="current_artifact"]')).to_have_text("database:default")

            update_run(run.pk, bytes_done=5 * 1024 * 1024, current_artifact="file:/srv/.env")
            expect(box.locator('[data-field="current_artifact"]')).to_have_text("file:/srv/.env", timeout=10_000)
            expect(box.locator('[data-field="bytes_done"]')).to_have_text("5.0\xa0MB")
            assert len(loads) == 1  # updated in place, not by reloading

            update_run(run.pk, status=BackupRun.Status.SUCCEEDED, total_bytes=2048)
            expect(page.locator("#live-progress")).to_have_count(0, timeout=10_000)  # reloaded once, outcome shown
            expect(page.locator(".backup-status-succeeded").first).to_be_visible()
        finally:
            browser.close()
