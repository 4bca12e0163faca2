"""The overview and the lists an operator opens, in real Chromium at 1400×900 in English and Japanese: the overview
is a grid of cards using the width, the internal models are folded under one heading, tables fit their box (no
last header or column cut off, no page wider than the window), destructive buttons are in the danger colour and the
action buttons have one size."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from backups.schedules import create_default_schedules as backup_schedules
from monitoring.schedules import create_default_schedules as monitoring_schedules
from tests.backups.conftest import make_run
from tests.dashboards.test_browser import record_snapshot
from tests.opsportal.console_browser import PASSWORD, console_page, english_on_page, overflowing, page_width, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Strings this work added that the Japanese catalog may not have yet (they pass once translated).
NEW_MSGIDS = ("Internal records (%(counter)s model)", "Internal records (%(counter)s models)")
WIDTH = 1400
DANGER = "rgb(186, 33, 33)"  # Django's --delete-button-bg


@pytest.fixture
def portal(db) -> dict:
    from monitoring.models import Status

    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    monitoring_schedules()
    backup_schedules()
    run = make_run()
    for index in range(6):
        run.artifacts.create(kind="file", name=f"/srv/opsportal/media/uploads/2026/11/a-rather-long-file-name-{index}"
                             "-that-an-operator-backs-up-with-its-whole-path.tar", path=f"p/{index:02}",
                             sha256=f"{index}" * 64, format="file")
    make_run(status="failed", error="pg_dump exited with 1: connection to server failed")
    record_snapshot(Status.CRITICAL)
    return {"run": run}


def check_page(page: Page, language: str, name: str, *, fits: str = "#content table, #content .results") -> None:
    shot(page, name, language)
    assert page_width(page) <= WIDTH, f"{name}: the page is {page_width(page)} px wide at {WIDTH}"
    assert overflowing(page, fits) == [], f"{name}: something does not fit"


def button_heights(page: Page, selector: str) -> set[int]:
    return set(page.locator(selector).evaluate_all("(elements) => elements.filter((e) => e.offsetParent)"
                                                   ".map((e) => Math.round(e.getBoundingClientRect().height))"))


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_overview_is_a_grid_of_cards_and_internal_models_are_folded(live_server, portal, language):
    with console_page(live_server.url, language) as (page, errors):
        cards = page.locator("#operations-overview .overview-card")
        expect(cards).to_have_count(5)
        boxes = [cards.nth(index).bounding_box() for index in range(5)]
        assert len({round(box["y"]) for box in boxes}) < 5, "cards side by side, not one column"
        overview = page.locator("#operations-overview").bounding_box()
        assert overview["width"] >= 900, f"the overview uses the width: {overview['width']} px"
        assert page.locator("#internal-models").get_attribute("open") is None
        expect(page.locator("#internal-models summary")).to_be_visible()
        # Operator models in view, histories folded away.
        expect(page.locator("#content-main > .app-backups")).to_be_visible()
        expect(page.locator("#internal-models .model-metricsample")).to_be_hidden()
        page.click("#internal-models summary")
        expect(page.locator("#internal-models .model-metricsample")).to_be_visible()
        check_page(page, language, "overview",
                   fits="#operations-overview table, #operations-overview .overview-card, #content-main table")
        english = english_on_page(page, "#content", new_msgids=NEW_MSGIDS) if language == "ja" else []
        assert errors == []
        assert english == [], "\n".join(english)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_lists_and_a_run_fit_the_window_with_danger_and_equal_buttons(live_server, portal, language):
    run = portal["run"]
    with console_page(live_server.url, language) as (page, errors):
        page.goto(f"{live_server.url}/admin/backups/backuprun/")
        check_page(page, language, "backup-runs")
        last_header = page.locator("#result_list thead th").last
        assert last_header.evaluate("(th) => th.scrollWidth <= th.clientWidth + 1"), "the last header is cut"

        page.goto(f"{live_server.url}/admin/django_celery_beat/periodictask/")
        check_page(page, language, "periodic-tasks")

        page.goto(f"{live_server.url}/admin/backups/backuprun/{run.pk}/change/")
        expect(page.locator("#artifacts-group")).to_be_visible()
        check_page(page, language, "backup-run", fits="#content table, #artifacts-group")
        tools = "#content .object-tools a, #content .object-tools button"
        assert page.locator(tools).count() >= 5  # verify, drill, pin, restore, delete, history
        assert len(button_heights(page, tools)) == 1, f"object tools of one size: {button_heights(page, tools)}"
        footer = "#content .submit-row a, #content .submit-row input"
        assert len(button_heights(page, footer)) == 1, button_heights(page, footer)
        for destructive in ["#restore-link", "#delete-link", ".submit-row a.deletelink"]:
            colour = page.locator(destructive).first.evaluate("(a) => getComputedStyle(a).backgroundColor")
            assert colour == DANGER, f"{destructive} is in the danger colour, not {colour}"
        for harmless in ['button[name="verify"]', 'button[name="pin"]']:
            assert page.locator(harmless).evaluate("(a) => getComputedStyle(a).backgroundColor") != DANGER
        assert errors == []
