"""In real Chromium: a running backup's page updates its progress by itself, and shows the outcome when it ends.

Screenshots of a run page with a percentage, at 1400×900 in English and Japanese, go to test-artifacts/backups/.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from backups.models import BackupRun
from performance.probes.page import CHROMIUM_ARGS
from tests.backups.conftest import make_run, make_user
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "backups"
MB = 1024 * 1024


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


def test_the_run_page_shows_a_percentage_a_bar_and_the_time_left_in_both_languages(live_server):
    client = Client()
    client.force_login(make_user("root", superuser=True))
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    run = make_run(status=BackupRun.Status.RUNNING, bytes_done=12 * MB, estimated_bytes=40 * MB,
                   started_at=timezone.now() - timedelta(seconds=10), current_artifact="database:default")
    url = live_server.url + reverse("admin:backups_backuprun_change", args=[run.pk])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for language in ("en", "ja"):
                update_run(run.pk, bytes_done=12 * MB)
                context = browser.new_context(viewport={"width": 1400, "height": 900},
                                              extra_http_headers={"Accept-Language": language})
                context.add_cookies(
                    [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
                )
                page = context.new_page()
                page.goto(url)
                box = page.locator("#live-progress")
                percent = box.locator('[data-field="percent"]')
                expect(percent).to_have_text("30 %")
                expect(box.locator('[data-field="eta"]')).to_be_visible()  # time left, from 12 MB in ~10 s
                assert box.locator("progress").get_attribute("value") == "30"

                update_run(run.pk, bytes_done=30 * MB, current_artifact="file:/srv/.env")
                expect(percent).to_have_text("75 %", timeout=10_000)  # moved in place, no reload
                expect(box.locator("progress")).to_have_js_property("value", 75)
                page.screenshot(path=str(ARTIFACTS / f"run-progress-{language}.png"), full_page=True)
                width = page.evaluate("document.scrollingElement.scrollWidth")
                assert width <= 1400, f"{language}: the run page is {width} px wide"
                if language == "ja":
                    assert "進捗" in box.inner_text() or "状態" in box.inner_text()  # the page is the Japanese one
                context.close()
        finally:
            browser.close()


def test_without_an_estimate_the_percentage_and_time_left_are_not_shown(live_server):
    client = Client()
    client.force_login(make_user("root", superuser=True))
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    run = make_run(status=BackupRun.Status.RUNNING, bytes_done=3 * MB, estimated_bytes=None)
    url = live_server.url + reverse("admin:backups_backuprun_change", args=[run.pk])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_cookies(
                [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(url)
            box = page.locator("#live-progress")
            expect(box.locator('[data-field="bytes_done"]')).to_have_text("3.0\xa0MB")
            update_run(run.pk, bytes_done=4 * MB)
            expect(box.locator('[data-field="bytes_done"]')).to_have_text("4.0\xa0MB", timeout=10_000)
            expect(box.locator('[data-field="percent"]')).to_be_hidden()
            expect(box.locator('[data-field="eta"]')).to_be_hidden()
        finally:
            browser.close()
