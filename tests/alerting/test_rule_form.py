"""The alert rule form accepts only the fields of the kind chosen under "Watches", and says which kind a stray value
belongs to; durations take 30s, 5m, 1h30m and HH:MM:SS, with the syntax in their help text."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerting.forms import AlertRuleForm
from alerting.models import AlertRule

pytestmark = pytest.mark.django_db

BASE = {
    "name": "Disk", "severity": "warning", "enabled": "on", "comparator": "gt", "check_status": "critical",
    "label_matchers": "{}", "for_duration": "5m", "resolve_after": "1m", "repeat_interval": "4h",
    "notify_on_resolve": "on",
}  # fmt: skip


def form(**fields) -> AlertRuleForm:
    return AlertRuleForm(data={**BASE, **fields})


def test_a_metric_rule_with_only_metric_fields_is_saved():
    rule_form = form(kind="metric", metric_name="backup_last_size_bytes", threshold="10")
    assert rule_form.is_valid(), rule_form.errors
    rule = rule_form.save()
    assert (rule.kind, rule.metric_name, rule.threshold, rule.event_name) == ("metric", "backup_last_size_bytes",
                                                                              10, "")


def test_a_check_rule_refuses_a_metric_and_an_event_naming_their_kinds():
    rule_form = form(kind="check", check_name="host", metric_name="backup_last_size_bytes", threshold="3",
                     event_name="backup_failed")
    assert not rule_form.is_valid()
    assert rule_form.errors["metric_name"] == [
        "Only a rule that watches “metric above or below a threshold” uses this field: empty it, or choose that "
        "under “Watches”."]
    assert rule_form.errors["threshold"][0].startswith("Only a rule that watches “metric above or below")
    assert rule_form.errors["event_name"][0].startswith("Only a rule that watches “event”")
    assert "check_name" not in rule_form.errors and not AlertRule.objects.filter(name="Disk").exists()


def test_an_event_rule_refuses_a_check_name_and_keeps_the_defaults_of_choice_fields():
    rule_form = form(kind="event", event_name="backup_failed", check_name="host")
    assert not rule_form.is_valid()
    assert list(rule_form.errors) == ["check_name"]  # comparator and check status always hold a value: not refused
    assert form(kind="event", event_name="backup_failed").is_valid()


@pytest.mark.parametrize(("typed", "duration"), [
    ("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("1h30m", timedelta(hours=1, minutes=30)),
    ("01:30:00", timedelta(hours=1, minutes=30)),
])  # fmt: skip
def test_every_duration_field_takes_the_one_syntax(typed, duration):
    rule_form = form(kind="check", check_name="host", for_duration=typed, resolve_after=typed, repeat_interval=typed)
    assert rule_form.is_valid(), rule_form.errors
    data = rule_form.cleaned_data
    assert data["for_duration"] == data["resolve_after"] == data["repeat_interval"] == duration


def test_duration_fields_and_watches_have_help_text():
    fields = form().fields
    for name in ("for_duration", "resolve_after", "repeat_interval"):
        assert "For example 30s, 5m, 1h30m or 7d (or HH:MM:SS)." in str(fields[name].help_text), name
    assert "Only the fields of this kind are shown" in str(fields["kind"].help_text)
    assert fields["metric_name"].widget.attrs["data-rule-kind"] == "metric"
    assert fields["check_status"].widget.attrs["data-rule-kind"] == "check"
    assert fields["event_name"].widget.attrs["data-rule-kind"] == "event"
