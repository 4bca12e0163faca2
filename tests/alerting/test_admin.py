"""The admin: the rule form refuses invalid rules; alerts are listed firing first; channels show failing; tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerting.models import Alert, AlertRule, Delivery, NotificationChannel
from alerting.models.labels import labels_key
from alerting.selectors import firing_alerts
from alerting.services import delivery_attempt

pytestmark = pytest.mark.django_db


def rule_form(**overrides) -> dict:
    form = {
        "name": "disk",
        "severity": "critical",
        "enabled": "on",
        "kind": "metric",
        "metric_name": "disk_used_percent",
        "comparator": "gt",
        "threshold": "90",
        "check_status": "critical",
        "label_matchers": "{}",
        "for_duration": "00:05:00",
        "resolve_after": "00:01:00",
        "repeat_interval": "04:00:00",
        "notify_on_resolve": "on",
    }
    return {**form, **overrides}


def test_the_rule_form_saves_a_valid_rule(admin_client):
    response = admin_client.post("/admin/alerting/alertrule/add/", rule_form(name="Data disk", threshold="85"))
    assert response.status_code == 302, response.content.decode()
    assert AlertRule.objects.get(name="Data disk").condition_text() == "disk_used_percent > 85"


def test_the_rule_form_refuses_an_unknown_metric_by_name(admin_client):
    response = admin_client.post("/admin/alerting/alertrule/add/", rule_form(metric_name="dsik_used_percent"))
    page = response.content.decode()
    assert "Unknown metric “dsik_used_percent”. Known metrics: " in page
    assert "disk_used_percent" in page
    assert not AlertRule.objects.filter(name="disk").exists()


def test_the_rule_form_refuses_a_negative_duration(admin_client):
    response = admin_client.post("/admin/alerting/alertrule/add/", rule_form(for_duration="-00:05:00"))
    assert "A duration cannot be negative." in response.content.decode()
    assert not AlertRule.objects.filter(name="disk").exists()


def test_the_rule_form_refuses_an_event_rule_without_a_resolve_time(admin_client):
    response = admin_client.post(
        "/admin/alerting/alertrule/add/", rule_form(kind="event", event_name="backup_failed", resolve_after="0")
    )
    assert "An event rule needs a minimum resolve time" in response.content.decode()


def make_alert(rule: AlertRule, state: str, host: str, minutes_ago: int) -> Alert:
    labels = {"host": host}
    return Alert.objects.create(
        rule=rule,
        labels=labels,
        labels_key=labels_key(labels),
        state=state,
        active_since=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_firing_alerts_come_first_most_severe_then_oldest(admin_client, make_rule):
    warning = make_rule(name="Memory", metric_name="memory_used_percent", severity="warning")
    critical = make_rule(name="Disk", severity="critical")
    make_alert(critical, "resolved", "old-host", 600)
    make_alert(warning, "firing", "warn-host", 90)
    make_alert(critical, "pending", "pending-host", 1)
    make_alert(critical, "firing", "young-host", 5)
    make_alert(critical, "firing", "old-firing-host", 120)
    page = admin_client.get("/admin/alerting/alert/").content.decode()
    order = ["old-firing-host", "young-host", "warn-host", "pending-host", "old-host"]
    positions = [page.index(f"host={host}") for host in order]
    assert positions == sorted(positions)
    assert "2\xa0hours" in page  # the age of the oldest firing alert
    assert [a.labels["host"] for a in firing_alerts()] == ["old-firing-host", "young-host", "warn-host"]


def test_a_failing_channel_is_shown_as_failing(admin_client):
    NotificationChannel.objects.create(
        name="slack", url="json://127.0.0.1:9/x", consecutive_failures=3, last_error="Connection error"
    )
    NotificationChannel.objects.create(name="mail", url="json://127.0.0.1:9/y")
    page = admin_client.get("/admin/alerting/notificationchannel/").content.decode()
    assert "failing (3 failures in a row)" in page
    assert "not used yet" in page


def test_the_channel_form_refuses_a_url_apprise_does_not_know(admin_client):
    response = admin_client.post(
        "/admin/alerting/notificationchannel/add/",
        {"name": "bad", "kind": "apprise", "url": "nosuchservice://x", "language": "en", "enabled": "on"},
    )
    assert "Apprise does not understand this URL" in response.content.decode()


def test_send_test_notification_reaches_the_channel(admin_client, webhook_channel, httpserver):
    response = admin_client.post(
        "/admin/alerting/notificationchannel/",
        {"action": "send_test_notification", "_selected_action": [webhook_channel.pk]},
        follow=True,
    )
    assert "Test notification queued for 1 channel" in response.content.decode()
    delivery = Delivery.objects.get(channel=webhook_channel, transition=None)
    # The action enqueues the deliver task after commit; run what that task runs.
    assert delivery_attempt(delivery_id=delivery.pk).status == "sent"
    (request, _) = httpserver.log[0]
    payload = request.get_json()
    assert payload["title"] == "[TEST] OpsPortal notification channel “webhook”"
    assert "alerts will reach you here" in payload["message"]


def test_an_alert_page_shows_its_transitions_and_the_list_searches_labels(admin_client, make_rule):
    from alerting.services import alerts_evaluate
    from tests.alerting.conftest import metric

    make_rule(name="Disk", for_duration=timedelta(0))
    now = timezone.now()
    alerts_evaluate(observations=[metric("disk_used_percent", 95, now, host="db1", path="/srv")], now=now)
    alert = Alert.objects.get()
    page = admin_client.get(f"/admin/alerting/alert/{alert.pk}/change/").content.decode()
    assert "firing" in page and "/srv" in page
    found = admin_client.get("/admin/alerting/alert/", {"q": "db1"}).content.decode()
    assert "host=db1" in found
    missing = admin_client.get("/admin/alerting/alert/", {"q": "web9"}).content.decode()
    assert "host=db1" not in missing


@pytest.mark.parametrize(
    "url",
    [
        "/admin/alerting/alertrule/",
        "/admin/alerting/alertrule/add/",
        "/admin/alerting/notificationchannel/add/",
        "/admin/alerting/silence/",
        "/admin/alerting/silence/add/",
        "/admin/alerting/delivery/",
        "/admin/alerting/alerttransition/",
        "/admin/alerting/alertevent/",
    ],
)
def test_every_alerting_admin_page_renders(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_a_default_rule_opens_in_the_form_with_the_known_metrics_listed(admin_client):
    rule = AlertRule.objects.get(key="disk-full")
    page = admin_client.get(f"/admin/alerting/alertrule/{rule.pk}/change/").content.decode()
    known = page.split("Known metrics: ")[1].split("<")[0]
    assert {"backup_last_success_age_seconds", "cpu_percent", "disk_used_percent", "perf_target_breached"} <= set(
        known.replace(",", " ").split()
    )


@pytest.mark.parametrize(("typed", "expected"), [
    ("5m", timedelta(minutes=5)), ("5 m", timedelta(minutes=5)), ("1h30m", timedelta(hours=1, minutes=30)),
    ("00:05:00", timedelta(minutes=5)), ("90", timedelta(seconds=90)), ("2d", timedelta(days=2)),
])
def test_the_rule_form_takes_durations_as_the_settings_write_them(admin_client, typed, expected):
    response = admin_client.post("/admin/alerting/alertrule/add/", rule_form(name="Data disk", for_duration=typed))
    assert response.status_code == 302, response.content.decode()
    rule = AlertRule.objects.get(name="Data disk")
    assert rule.for_duration == expected


def test_the_rule_form_shows_durations_the_same_way(admin_client):
    admin_client.post("/admin/alerting/alertrule/add/", rule_form(name="Data disk", for_duration="1h30m"))
    rule = AlertRule.objects.get(name="Data disk")
    page = admin_client.get(f"/admin/alerting/alertrule/{rule.pk}/change/").content.decode()
    assert 'value="1h30m"' in page and 'value="4h"' in page  # for, and the repeat interval 04:00:00


def test_the_rule_form_refuses_a_duration_it_cannot_read_with_examples(admin_client):
    response = admin_client.post("/admin/alerting/alertrule/add/", rule_form(for_duration="soon"))
    assert "Enter a duration such as 30s, 5m, 1h30m, 7d or 01:30:00." in response.content.decode()
    assert not AlertRule.objects.filter(name="disk").exists()
