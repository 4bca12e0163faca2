"""In real Chromium at 1400×900: a running restore drill's percentage moves on its backup's page without a reload,
and the page shows the drill's outcome once it ends. Screenshots go to test-artifacts/backups/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from backups.models import BackupRun
from performance.probes.page import CHROMIUM_ARGS
from tests.backups.conftest import make_run, make_user
from tests.backups.test_admin_progress_browser import ARTIFACTS, CHROMIUM, MB, update_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_running_drills_percent_moves_in_place_then_the_outcome_shows(live_server, language):
    client = Client()
    client.force_login(make_user("root", superuser=True))
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    now = timezone.now()
    run = make_run(drill_started_at=now - timedelta(seconds=10), drill_heartbeat_at=now,
                   drill_bytes_done=12 * MB, drill_bytes_total=40 * MB)
    url = live_server.url + reverse("admin:backups_backuprun_change", args=[run.pk])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900},
                                          extra_http_headers={"Accept-Language": language})
            context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": session,
                                  "url": live_server.url}])
            page = context.new_page()
            loads = []
            page.on("load", lambda: loads.append(1))
            page.goto(url)
            box = page.locator("#live-progress")
            expect(box.locator('[data-field="percent"]')).to_have_text("30 %")
            expect(box.locator('[data-field="eta"]')).to_be_visible()

            update_run(run.pk, drill_bytes_done=30 * MB, drill_heartbeat_at=timezone.now())
            expect(box.locator('[data-field="percent"]')).to_have_text("75 %", timeout=10_000)
            expect(box.locator("progress")).to_have_js_property("value", 75)
            assert len(loads) == 1  # moved in place, not by reloading
            page.screenshot(path=str(ARTIFACTS / f"drill-progress-{language}.png"), full_page=True)

            update_run(run.pk, drill_heartbeat_at=None, drill_bytes_done=40 * MB, drill_rto_seconds=3.2,
                       verification=BackupRun.Verification.DRILL_PASSED, verified_at=timezone.now())
            expect(page.locator("#live-progress")).to_have_count(0, timeout=10_000)  # reloaded once: the outcome
            expect(page.locator(".field-drill_rto_seconds_human")).to_contain_text("3.2")
        finally:
            browser.close()
