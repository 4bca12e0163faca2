"""Notifications in each channel's language, delivered for real to a local webhook (pytest-httpserver)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from alerting.models import AlertRule, NotificationChannel
from alerting.observations import Observation
from alerting.services import alerts_evaluate, channel_test_send, delivery_attempt
from tests.alerting.conftest import notify_unprocessed
from tests.i18n.conftest import untranslated_in

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def channels(httpserver) -> dict[str, NotificationChannel]:
    """A Japanese and an English channel, each posting apprise's JSON to its own path of a real HTTP server."""
    made = {}
    for language in ("ja", "en"):
        httpserver.expect_request(f"/{language}", method="POST").respond_with_data("ok")
        channel = NotificationChannel(name=f"ops-{language}", url=f"json://127.0.0.1:{httpserver.port}/{language}",
                                      language=language)
        channel.full_clean()
        channel.save()
        made[language] = channel
    return made


def received(httpserver, language: str) -> list[dict]:
    return [request.get_json() for request, _ in httpserver.log if request.path == f"/{language}"]


def disk_at(percent: float) -> None:
    now = timezone.now()
    observation = Observation(kind="metric", name="disk_used_percent", labels={"host": "db1", "path": "/var"},
                              value=percent, status=None, at=now)
    alerts_evaluate(observations=[observation], now=now)
    notify_unprocessed(now)


def test_a_japanese_channel_receives_japanese_and_an_english_one_english(channels, httpserver, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    AlertRule.objects.filter(key="disk-full").update(resolve_after=timedelta(0))  # the default rule, as created
    with time_machine.travel(T0, tick=False) as clock:
        disk_at(97.5)
        clock.shift(timedelta(minutes=5))
        disk_at(97.5)  # fires after the rule's 5 minutes
        clock.shift(timedelta(minutes=1))
        disk_at(40)  # resolves

    firing, resolved = received(httpserver, "ja")
    assert firing["title"] == "[発生] ディスク容量がほぼ満杯 (host=db1, path=/var)"
    body = firing["message"]
    for line in ["ディスク容量がほぼ満杯 — 重大", "内容: disk_used_percent > 90", "対象: host=db1, path=/var",
                 "発生日時: 2026-03-02 18:00:00 JST (5分前)", "観測値: 97.5", "OpsPortal で開く: "]:
        assert line in body, body
    assert resolved["title"].startswith("[解決] ディスク容量がほぼ満杯")
    assert "解決日時: 2026-03-02 18:06:00 JST" in resolved["message"]
    for payload in (firing, resolved):
        assert untranslated_in([payload["title"], *payload["message"].splitlines()]) == []

    english, _ = received(httpserver, "en")
    assert english["title"] == "[FIRING] Disk almost full (host=db1, path=/var)"
    assert "Since: 2026-03-02 18:00:00 JST (5 minutes ago)" in english["message"]


def test_the_test_notification_of_a_japanese_channel_is_japanese(channels, httpserver):
    delivery = channel_test_send(channel=channels["ja"])
    delivery_attempt(delivery_id=delivery.pk, now=timezone.now())
    (payload,) = received(httpserver, "ja")
    assert payload["title"] == "[テスト] OpsPortal 通知チャネル「ops-ja」"
    assert "このメッセージが読めていれば、アラートはここに届きます。" in payload["message"]
    assert untranslated_in([payload["title"], *payload["message"].splitlines()]) == []
