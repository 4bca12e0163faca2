"""Notifications through apprise's JSON webhook to a real local HTTP server: firing, resolve, reminders, channels."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from alerting.models import Alert, NotificationChannel
from alerting.services import alert_acknowledge, alerts_evaluate
from tests.alerting.conftest import T0, metric, notify_unprocessed, webhook_payloads

pytestmark = pytest.mark.django_db


def observe(value: float, **labels: str) -> None:
    now = timezone.now()
    alerts_evaluate(observations=[metric("disk_used_percent", value, now, **labels)], now=now)
    notify_unprocessed(now)


def test_firing_and_resolved_messages_say_what_where_since_value_and_link(
    make_rule, webhook_channel, httpserver, settings
):
    settings.PORTAL_URL = "https://ops.example.com"
    make_rule(name="Disk almost full", for_duration=timedelta(minutes=5), resolve_after=timedelta(0))
    with time_machine.travel(T0, tick=False) as clock:
        observe(95.5, host="web1", path="/data")
        assert webhook_payloads(httpserver) == []  # pending: nobody is told yet
        clock.shift(timedelta(minutes=5))
        observe(96.25, host="web1", path="/data")
        clock.shift(timedelta(minutes=3))
        observe(42, host="web1", path="/data")
    alert = Alert.objects.get()
    firing, resolved = webhook_payloads(httpserver)
    assert firing["title"] == "[FIRING] Disk almost full (host=web1, path=/data)"
    assert firing["type"] == "failure"
    body = firing["message"]
    assert "What: disk_used_percent > 90" in body
    assert "Where: host=web1, path=/data" in body
    assert "Since: 2026-03-02 09:00:00 UTC (5 minutes ago)" in body
    assert "Observed value: 96.25" in body
    assert f"https://ops.example.com/admin/alerting/alert/{alert.pk}/change/" in body
    assert resolved["title"] == "[RESOLVED] Disk almost full (host=web1, path=/data)"
    assert resolved["type"] == "success"
    assert "Resolved at: 2026-03-02 09:08:00 UTC" in resolved["message"]
    assert "Observed value: 42" in resolved["message"]


def test_no_resolve_notification_when_the_rule_says_so(make_rule, webhook_channel, httpserver):
    make_rule(for_duration=timedelta(0), resolve_after=timedelta(0), notify_on_resolve=False)
    with time_machine.travel(T0, tick=False) as clock:
        observe(95, path="/")
        clock.shift(timedelta(minutes=1))
        observe(10, path="/")
    assert [p["title"].split("]")[0] for p in webhook_payloads(httpserver)] == ["[FIRING"]
    assert Alert.objects.get().state == "resolved"


def test_reminders_follow_the_repeat_interval_until_acknowledged(make_rule, webhook_channel, httpserver):
    make_rule(for_duration=timedelta(0), repeat_interval=timedelta(hours=1))
    with time_machine.travel(T0, tick=False) as clock:
        observe(95, path="/")
        clock.shift(timedelta(minutes=59))
        observe(95, path="/")
        assert len(httpserver.log) == 1
        clock.shift(timedelta(minutes=1))
        observe(95, path="/")
        clock.shift(timedelta(minutes=30))
        observe(95, path="/")
        assert [p["title"][:14] for p in webhook_payloads(httpserver)] == ["[FIRING] rule ", "[STILL FIRING]"]
        alert_acknowledge(alerts=Alert.objects.all(), user=None, now=timezone.now())
        clock.shift(timedelta(hours=3))
        observe(95, path="/")
    assert len(httpserver.log) == 2


def test_only_the_rules_channels_are_notified_and_all_enabled_ones_when_it_names_none(
    make_rule, webhook_channel, httpserver
):
    other = NotificationChannel.objects.create(name="other", url=f"json://127.0.0.1:{httpserver.port}/other")
    NotificationChannel.objects.create(
        name="disabled", url=f"json://127.0.0.1:{httpserver.port}/disabled", enabled=False
    )
    httpserver.expect_request("/other", method="POST").respond_with_data("ok")
    make_rule(name="to other", for_duration=timedelta(0), channels=[other])
    make_rule(name="to everyone", metric_name="memory_used_percent", for_duration=timedelta(0))
    now = timezone.now()
    alerts_evaluate(
        observations=[metric("disk_used_percent", 95, now, host="a"), metric("memory_used_percent", 95, now, host="a")],
        now=now,
    )
    notify_unprocessed(now)
    received = sorted((request.path, request.get_json()["title"].split(" (")[0]) for request, _ in httpserver.log)
    assert received == [
        ("/hook", "[FIRING] to everyone"),
        ("/other", "[FIRING] to everyone"),
        ("/other", "[FIRING] to other"),
    ]


def test_a_japanese_channel_gets_its_message_rendered_in_japanese(make_rule, webhook_channel, httpserver):
    webhook_channel.language = "ja"
    webhook_channel.save()
    make_rule(for_duration=timedelta(minutes=5))
    with time_machine.travel(T0, tick=False) as clock:
        observe(95, path="/")
        clock.shift(timedelta(minutes=5))
        observe(95, path="/")
    (payload,) = webhook_payloads(httpserver)
    # "5 minutes ago" is one sentence of the portal's catalog ("%(num)d minute ago"), not Django's "5分" glued to a
    # separate "前" with a space between them.
    assert "(5分前)" in payload["message"]
    assert "発生日時: " in payload["message"] and "Since:" not in payload["message"]
