"""In real Chromium against a live server: the operations overview runs a backup through a real worker and follows
it by itself, the run shows its artifacts, the restore confirmation guards the database, and the history dashboard
draws a day and a year of seeded history. Screenshots go to test-artifacts/; no page may log a console error."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from playwright.sync_api import Page, expect, sync_playwright

from backups.models import BackupRun, RestoreRun
from monitoring.models import HealthSnapshot, Status
from performance.probes.page import CHROMIUM_ARGS
from tests.conftest import ROOT
from tests.dashboards.conftest import seed_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "dashboards"
PASSWORD = "pw-browser-0123"


def in_thread(function: Callable[[], Any]) -> Any:
    """Run ORM code off Playwright's thread (its event loop makes Django refuse synchronous queries there)."""

    def call() -> Any:
        try:
            return function()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


@pytest.fixture
def browser_page(live_server, root_user) -> Iterator[tuple[Page, list[str]]]:
    """A logged-out Chromium page and the console errors (and uncaught exceptions) of every page it shows."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: errors.append(f"{page.url}: {message.text}")
                    if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
            yield page, errors
        finally:
            browser.close()


def log_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click('input[type="submit"]')
    expect(page.locator("#operations-overview")).to_be_visible()


def record_snapshot(disk: Status) -> None:
    """A health snapshot as the beat task stores it: the database fine, the disk of web-1 as given."""
    from django.utils import timezone

    snapshot = HealthSnapshot.objects.create(taken_at=timezone.now(), status=disk, duration_ms=12)
    snapshot.results.create(taken_at=snapshot.taken_at, check_name="database", status=Status.OK, duration_ms=2,
                            message="2 ms")
    snapshot.results.create(taken_at=snapshot.taken_at, check_name="disk", host="web-1", status=disk,
                            duration_ms=1, message="/ 93 % used" if disk == Status.CRITICAL else "/ 41 % used")


def shot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def root_user(db) -> None:
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


def test_run_backup_now_is_followed_by_the_overview_then_its_run_and_the_restore_confirmation(
    live_server, backup_dir, celery_worker_process, browser_page
):
    page, errors = browser_page
    database_name = connection.settings_dict["NAME"]
    worker = celery_worker_process(queues="backups", extra_env={
        "BACKUP_DIR": str(backup_dir), "BACKUP_FILES": "", "BACKUP_DOCKER_VOLUMES": "",
        "BACKUP_PROGRESS_EVERY": "200ms"})
    in_thread(lambda: record_snapshot(Status.OK))
    log_in(page, live_server.url)
    overview = page.locator("#operations-overview")
    expect(page.locator('#health-checks [data-check="disk@web-1"]')).to_have_class("check-badge status-ok")
    expect(page.locator("#backups-overview")).to_contain_text("No successful backup yet.")
    shot(page, "overview-before-backup")

    with page.expect_navigation(wait_until="load"):  # the POST and its redirect back to the index, fully loaded
        page.click("#overview-run-backup-now button")
    expect(page.locator(".messagelist")).to_contain_text("queued")
    loads: list[int] = []
    page.on("load", lambda: loads.append(1))
    run_id = in_thread(lambda: BackupRun.objects.get().pk)

    # No reload by hand: the overview's polling replaces the backups section until the run is the last backup.
    last_backup = page.locator(f'#backups-overview a[href$="/backuprun/{run_id}/change/"]').first
    expect(last_backup).to_be_visible(timeout=60_000)
    expect(page.locator("#overview-now")).to_have_attribute("data-active-status", "", timeout=30_000)
    expect(page.locator("#backups-overview")).to_contain_text("No backup is running.")
    assert loads == [], "the overview must refresh in place"
    assert in_thread(lambda: BackupRun.objects.get(pk=run_id).status) == BackupRun.Status.SUCCEEDED
    assert overview.get_attribute("data-backup-active") == ""

    in_thread(lambda: record_snapshot(Status.CRITICAL))  # the next snapshot: the disk filled up
    expect(page.locator('#health-checks [data-check="disk@web-1"]')).to_have_class("check-badge status-critical",
                                                                                  timeout=20_000)
    expect(page.locator("#health-problems")).to_contain_text("/ 93 % used")
    assert loads == []
    shot(page, "overview-after-backup")

    last_backup.click()
    expect(page.locator(".backup-status-succeeded").first).to_be_visible()
    artifacts = page.locator("#artifacts-group")
    expect(artifacts).to_contain_text("database")
    expect(artifacts).to_contain_text("default")
    shot(page, "backup-run")

    page.click("#restore-link")
    expect(page.locator("#restore-confirmation")).to_contain_text(database_name)
    page.fill("#id_confirmation", "not-the-database")
    page.click('#restore-confirmation input[type="submit"]')
    expect(page.locator("#restore-confirmation .errornote")).to_contain_text(database_name)
    assert in_thread(lambda: RestoreRun.objects.count()) == 0
    shot(page, "restore-refused")

    # Only the enqueueing is under test here: with the worker stopped the restore waits in the queue instead of
    # overwriting the database this test runs on.
    worker.terminate()
    worker.wait(timeout=30)
    page.fill("#id_confirmation", database_name)
    page.click('#restore-confirmation input[type="submit"]')
    expect(page.locator(".messagelist")).to_contain_text("queued")
    restore = in_thread(lambda: RestoreRun.objects.get())
    assert restore.source_run_id == run_id and restore.status == RestoreRun.Status.QUEUED
    shot(page, "restore-queued")

    from opsportal.celery import app

    in_thread(app.control.purge)
    # The refused confirmation answers 400 on purpose (the backups admin's choice); Chromium logs any 4xx page.
    refused = f"/backuprun/{run_id}/restore/: Failed to load resource: the server responded with a status of 400"
    assert [error for error in errors if refused not in error] == []


def colored_pixels(page: Page, chart_id: str) -> int:
    """Pixels of the chart's first series colour inside its plot area: the line uPlot drew, not axes or grid."""
    return page.evaluate(
        """(id) => {
            const entry = window.opsDashboard.plots.find((p) => p.id === id);
            const u = entry.plot, box = u.bbox;
            const hex = window.opsDashboard.colors[0];
            const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
            const pixels = u.ctx.getImageData(box.left, box.top, box.width, box.height).data;
            let count = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                if (pixels[i + 3] > 160 && want.every((v, k) => Math.abs(pixels[i + k] - v) < 40)) { count += 1; }
            }
            return count;
        }""",
        chart_id,
    )


def test_the_history_dashboard_draws_a_day_and_a_year_of_seeded_history(live_server, browser_page):
    in_thread(lambda: seed_history(days=365, raw_days=1))
    page, errors = browser_page
    log_in(page, live_server.url)
    page.click("#dashboard-link")
    dashboard = page.locator("#dashboard")
    expect(dashboard).to_have_attribute("data-loaded", "1", timeout=30_000)

    for range_key, resolution, least_points in [("24h", "raw", 250), ("1y", "day", 300)]:
        if range_key != "24h":
            page.click(f'a[data-range="{range_key}"]')
            expect(page.locator(f'a.selected[data-range="{range_key}"]')).to_be_visible()
            expect(dashboard).to_have_attribute("data-loaded", "1", timeout=30_000)
        data = page.evaluate("window.opsDashboard.data")
        assert data["range"]["resolution"] == resolution
        charts = {chart["id"]: chart for chart in data["charts"]}
        for chart_id in ["cpu", "memory", "disk", "db_connections", "db_size", "redis_memory", "queues", "workers",
                         "probes"]:
            values = [value for series in charts[chart_id]["series"] for value in series["values"]]
            assert sum(value is not None for value in values) > 0, f"{chart_id} has no data for {range_key}"
            assert int(page.locator(f"#chart-{chart_id}").get_attribute("data-points")) > 0
        assert len(charts["cpu"]["x"]) >= least_points
        assert colored_pixels(page, "cpu") > 200, f"the CPU line was not drawn for {range_key}"
        assert colored_pixels(page, "db_size") > 100
        assert int(page.locator("#status-timeline").get_attribute("data-rows")) == len(data["timeline"]) > 0
        assert data["markers"], "backup runs are marked"
        expect(page.locator("#chart-backups canvas").first).to_be_visible()
        shot(page, f"history-{range_key}")

    # A custom range, typed in the browser's local time: ten days ago to three days ago, read from hourly rollups.
    local = page.evaluate("""() => {
        const at = (days) => { const d = new Date(Date.now() - days * 86400000);
            d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); };
        return [at(10), at(3)];
    }""")
    page.fill("#range-start", local[0])
    page.fill("#range-end", local[1])
    page.click('#custom-range button[type="submit"]')
    expect(page).to_have_url(re.compile(r"start="))
    expect(dashboard).to_have_attribute("data-loaded", "1", timeout=30_000)
    data = page.evaluate("window.opsDashboard.data")
    assert data["range"]["key"] == "custom" and data["range"]["resolution"] == "hour"
    assert 7 * 86400 - 120 <= data["range"]["end"] - data["range"]["start"] <= 7 * 86400 + 120
    assert colored_pixels(page, "cpu") > 200
    assert errors == []
