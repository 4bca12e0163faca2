from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller

from alerting.models import AlertRule, NotificationChannel
from alerting.observations import PROVIDERS, Observation
from tests.backups.conftest import backup_dir, run_backup  # noqa: F401 (real failed backups: test_backup_failed.py)
from tests.conftest import free_port

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def metric(name: str, value: float, at: datetime, **labels: str) -> Observation:
    return Observation(kind="metric", name=name, labels=labels, value=value, status=None, at=at)


def check(name: str, status: str, at: datetime, message: str = "", **labels: str) -> Observation:
    return Observation(kind="check", name=name, labels=labels, value=None, status=status, at=at, message=message)


@pytest.fixture
def only_test_providers() -> Iterator[None]:
    """Only the providers a test registers: the installed apps' own (monitoring, performance) report real data."""
    with PROVIDERS.isolated():
        yield


@pytest.fixture
def no_default_rules(db) -> None:
    """Default rules (created by post_migrate) would react to the observations too; each test makes its own."""
    AlertRule.objects.filter(key__isnull=False).delete()


@pytest.fixture
def make_rule(no_default_rules) -> Callable[..., AlertRule]:
    def make(**fields) -> AlertRule:
        defaults = {
            "name": f"rule {AlertRule.objects.count() + 1}",
            "kind": "metric",
            "metric_name": "disk_used_percent",
            "comparator": "gt",
            "threshold": 90,
            "for_duration": timedelta(minutes=5),
            "resolve_after": timedelta(minutes=2),
            "repeat_interval": None,
            "severity": "critical",
        }
        channels = fields.pop("channels", [])
        rule = AlertRule(**{**defaults, **fields})
        rule.full_clean()
        rule.save()
        rule.channels.set(channels)
        return rule

    return make


@pytest.fixture
def webhook_channel(db, httpserver) -> NotificationChannel:
    """A channel posting apprise's JSON payload to a real local HTTP server (pytest-httpserver)."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    channel = NotificationChannel(name="webhook", url=f"json://127.0.0.1:{httpserver.port}/hook")
    channel.full_clean()
    channel.save()
    return channel


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.original_content}
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[dict]]]:
    """A real SMTP server (aiosmtpd) on a free loopback port; yields (port, received messages)."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox.messages
    finally:
        controller.stop()


def notify_unprocessed(now: datetime) -> list:
    """What the process_transition and deliver tasks do, inline: claim every new transition and send its deliveries."""
    from alerting.models import AlertTransition
    from alerting.services import alert_transition_process, delivery_attempt

    sent = []
    for transition_id in AlertTransition.objects.filter(processed_at=None).order_by("pk").values_list("pk", flat=True):
        for delivery in alert_transition_process(transition_id=transition_id, now=now):
            sent.append(delivery_attempt(delivery_id=delivery.pk, now=now))
    return sent


def webhook_payloads(httpserver) -> list[dict]:
    return [request.get_json() for request, _ in httpserver.log]
