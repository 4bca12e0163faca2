"""In real Chromium at 1400×900, in English and Japanese: the point-in-time restore form shows the recoverable
window, fits the page, and a restore to a typed time brings back exactly the rows committed before it.

Screenshots go to test-artifacts/physical/ (look at them when the form changes).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright

from backups.models import BackupRun, RestoreRun
from backups.physical.backup import physical_backup_create
from backups.services.backup import backup_run_execute
from backups.services.restore import restore_run_execute
from performance.probes.page import CHROMIUM_ARGS
from tests.backups.physical.conftest import moment_between_commits, order_ids, write_rows
from tests.conftest import ROOT, free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "physical"
PASSWORD = "pw-browser-0123"
# The form's English labels: none may be left on the Japanese page.
ENGLISH = ["Recover to", "a point in time", "New data directory", "Type the stanza's name to confirm",
           "Restore now", "Recoverable from"]


def test_the_point_in_time_form_in_both_languages_restores_to_the_typed_time(live_server, physical):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    write_rows(physical, range(1, 4))
    run = backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli").pk)
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    write_rows(physical, range(4, 6))
    moment = moment_between_commits(physical)
    write_rows(physical, range(6, 9))
    physical.switch_and_wait()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = f"{live_server.url}/admin/backups/backuprun/point-in-time/"
    port = free_port()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for language in ("en", "ja"):
                context = browser.new_context(viewport={"width": 1400, "height": 900},
                                              extra_http_headers={"Accept-Language": language})
                page = context.new_page()
                page.goto(f"{live_server.url}/admin/login/?next=/admin/")
                page.fill("#id_username", "root")
                page.fill("#id_password", PASSWORD)
                page.click('input[type="submit"]')
                page.goto(url)
                window = page.locator("#recovery-window")
                expect(window).to_be_visible()
                assert physical.stanza in page.locator("#point-in-time").inner_text()
                # to the second: a point-in-time restore is chosen to the second, so its bounds must be shown so
                assert len(re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", window.inner_text())) == 2
                page.screenshot(path=str(ARTIFACTS / f"point-in-time-{language}.png"), full_page=True)
                width = page.evaluate("document.scrollingElement.scrollWidth")
                assert width <= 1400, f"{language}: the form makes the page {width} px wide"
                text = page.locator("#content").inner_text()
                if language == "ja":
                    left = [phrase for phrase in ENGLISH if phrase in text]
                    assert not left, f"English on the Japanese form: {left}"
                    assert "復旧できます" in text
                else:
                    assert "Recoverable from" in window.inner_text()
                    page.fill("#id_target_time", moment)
                    page.fill("#id_pg_path", str(physical.folder / "browser-restored"))
                    page.fill("#id_port", str(port))
                    page.fill("#id_confirmation", physical.stanza)
                    page.click('input[type="submit"].deletelink')
                    expect(page.locator("body")).to_contain_text("queued")
                    expect(page.locator("h2").first).to_contain_text("point-in-time restore #")
                    page.screenshot(path=str(ARTIFACTS / "point-in-time-queued-en.png"), full_page=True)
                context.close()
        finally:
            browser.close()

    restore = RestoreRun.objects.get()
    assert restore.kind == "physical" and restore.triggered_by_name == "root"
    done = restore_run_execute(restore_id=restore.pk)  # what the worker does with the queued task
    assert done.status == RestoreRun.Status.SUCCEEDED, done.error
    assert order_ids(port) == [1, 2, 3, 4, 5]  # the rows committed before the typed time, none after
