"""The alert rule form in real Chromium at 1400×900, in English and Japanese: choosing what the rule watches shows
that kind's fields only, and a rule saved after switching kinds keeps nothing of the hidden ones."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from alerting.models import AlertRule
from tests.opsportal.console_browser import PASSWORD, console_page, english_on_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Strings this work added that the Japanese catalog may not have yet (they pass once the lead translates them).
NEW_MSGIDS = ("What the rule watches. Only the fields of this kind are shown: metric, comparator and threshold for "
              "a metric; check and status for a health check; the event's name for an event.",
              "%(meaning)s For example 30s, 5m, 1h30m or 7d (or HH:MM:SS).")
FIELDS = {
    "metric": ["#id_metric_name", "#id_comparator", "#id_threshold"],
    "check": ["#id_check_name", "#id_check_status"],
    "event": ["#id_event_name"],
}


@pytest.fixture
def root(db) -> None:
    AlertRule.objects.all().delete()  # the default rules are not needed here
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


def expect_kind(page: Page, kind: str) -> None:
    for other, selectors in FIELDS.items():
        for selector in selectors:
            if other == kind:
                expect(page.locator(selector)).to_be_visible()
            else:
                expect(page.locator(selector)).to_be_hidden()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_choosing_what_the_rule_watches_shows_only_that_kinds_fields(live_server, root, language):
    with console_page(live_server.url, language) as (page, errors):
        page.goto(f"{live_server.url}/admin/alerting/alertrule/add/")
        expect_kind(page, "metric")  # the default kind
        shot(page, "alert-rule-metric", language)

        page.select_option("#id_kind", "check")
        expect_kind(page, "check")
        shot(page, "alert-rule-check", language)

        page.select_option("#id_kind", "event")
        expect_kind(page, "event")
        assert page.locator("#id_kind").evaluate("(e) => e.closest('.form-row').querySelector('.help').textContent")
        shot(page, "alert-rule-event", language)
        if language == "ja":
            assert english_on_page(page, "#content", new_msgids=NEW_MSGIDS) == []

        # typed as a metric rule, then switched to a check rule: the hidden metric fields are not saved
        page.select_option("#id_kind", "metric")
        page.fill("#id_name", f"Any check critical ({language})")
        page.fill("#id_metric_name", "backup_last_size_bytes")
        page.fill("#id_threshold", "5")
        page.select_option("#id_kind", "check")
        page.fill("#id_for_duration", "1h30m")
        page.click('input[name="_save"]')
        expect(page.locator(".messagelist .success")).to_be_visible()
        assert errors == []

    rule = AlertRule.objects.get(name=f"Any check critical ({language})")
    assert (rule.kind, rule.metric_name, rule.threshold) == ("check", "", None)
    assert rule.for_duration.total_seconds() == 5400


def test_a_refused_stray_field_stays_visible_with_its_message(live_server, root):
    """Without the script's clean-up (a form posted by hand), the server's refusal is shown on the field it names."""
    with console_page(live_server.url, "en") as (page, errors):
        page.goto(f"{live_server.url}/admin/alerting/alertrule/add/")
        page.fill("#id_name", "Stray")
        page.select_option("#id_kind", "check")
        page.evaluate("document.querySelector('#id_event_name').value = 'backup_failed'")  # hidden, yet filled
        page.evaluate("document.querySelector('#id_kind').form.submit()")  # no submit event: nothing emptied
        expect(page.locator("#id_event_name")).to_be_visible()
        expect(page.locator(".errorlist").first).to_contain_text("Only a rule that watches “event”")
        shot(page, "alert-rule-refused", "en")
    assert not AlertRule.objects.filter(name="Stray").exists()
