"""Delivery attempts: email through a real SMTP server (apprise mailto:// and Django ADMINS), failures and retries."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from alerting.models import Delivery, NotificationChannel
from alerting.services import alerts_evaluate, delivery_attempt
from tests.alerting.conftest import T0, metric, notify_unprocessed
from tests.conftest import free_port

pytestmark = pytest.mark.django_db


def fire_disk_alert(make_rule, **rule_fields) -> None:
    make_rule(name="Disk almost full", for_duration=timedelta(0), **rule_fields)
    alerts_evaluate(observations=[metric("disk_used_percent", 97.5, T0, host="db1", path="/var")], now=T0)


def text_of(raw: bytes) -> tuple[email.message.EmailMessage, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return message, message.get_body(preferencelist=("plain",)).get_content()


def test_apprise_email_reaches_a_real_smtp_server(make_rule, smtp_server):
    port, inbox = smtp_server
    NotificationChannel.objects.create(
        name="ops mail", url=f"mailto://127.0.0.1:{port}?from=alerts@example.com&to=ops@example.com&mode=insecure"
    )
    fire_disk_alert(make_rule)
    (delivery,) = notify_unprocessed(T0)
    assert delivery.status == "sent", delivery.error
    assert delivery.duration_ms > 0
    (received,) = inbox
    assert received["to"] == ["ops@example.com"]
    message, body = text_of(received["data"])
    assert message["Subject"] == "[FIRING] Disk almost full (host=db1, path=/var)"
    assert "Where: host=db1, path=/var" in body
    assert "Observed value: 97.5" in body


def test_the_django_admins_channel_mails_every_admin(make_rule, smtp_server, settings):
    port, inbox = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.ADMINS = [("", "alice@example.com"), ("", "bob@example.com")]
    settings.SERVER_EMAIL = "portal@example.com"
    NotificationChannel.objects.create(name="admins", kind="admins")
    fire_disk_alert(make_rule)
    (delivery,) = notify_unprocessed(T0)
    assert delivery.status == "sent", delivery.error
    (received,) = inbox
    assert received["from"] == "portal@example.com"
    assert sorted(received["to"]) == ["alice@example.com", "bob@example.com"]
    message, body = text_of(received["data"])
    assert message["Subject"].endswith("[FIRING] Disk almost full (host=db1, path=/var)")
    assert "What: disk_used_percent > 90" in body


def test_the_admins_channel_fails_visibly_when_admins_is_empty(make_rule, settings):
    settings.ADMINS = []
    NotificationChannel.objects.create(name="admins", kind="admins")
    fire_disk_alert(make_rule)
    (delivery,) = notify_unprocessed(T0)
    assert delivery.status == "retrying"
    assert "ADMINS is empty" in delivery.error


def test_a_closed_port_records_the_error_backs_off_and_finally_fails(make_rule, settings):
    settings.ALERTING_DELIVERY_ATTEMPTS = 3
    settings.ALERTING_RETRY_BACKOFF = timedelta(seconds=30)
    channel = NotificationChannel.objects.create(name="dead hook", url=f"json://127.0.0.1:{free_port()}/hook")
    fire_disk_alert(make_rule)
    with time_machine.travel(T0, tick=False) as clock:
        (delivery,) = notify_unprocessed(timezone.now())
        assert delivery.status == "retrying"
        assert delivery.attempts == 1
        assert "Connection error" in delivery.error
        assert delivery.next_attempt_at == T0 + timedelta(seconds=30)
        channel.refresh_from_db()
        assert channel.is_failing and channel.consecutive_failures == 1
        assert "Connection error" in channel.last_error

        clock.shift(timedelta(seconds=30))
        delivery = delivery_attempt(delivery_id=delivery.pk, now=timezone.now())
        assert (delivery.status, delivery.attempts) == ("retrying", 2)
        assert delivery.next_attempt_at == timezone.now() + timedelta(seconds=60)  # the backoff doubles
        clock.shift(timedelta(seconds=60))
        delivery = delivery_attempt(delivery_id=delivery.pk, now=timezone.now())
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.next_attempt_at is None
    # a finished delivery is not attempted again, whoever asks
    assert delivery_attempt(delivery_id=delivery.pk).attempts == 3
    channel.refresh_from_db()
    assert channel.consecutive_failures == 3


def test_a_channel_that_works_again_is_no_longer_failing(make_rule, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    channel = NotificationChannel.objects.create(
        name="hook", url=f"json://127.0.0.1:{httpserver.port}/hook", consecutive_failures=4
    )
    fire_disk_alert(make_rule)
    (delivery,) = notify_unprocessed(T0)
    assert delivery.status == "sent"
    channel.refresh_from_db()
    assert not channel.is_failing and channel.last_success_at is not None


def test_an_http_error_of_the_peer_is_recorded(make_rule, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("nope", status=503)
    NotificationChannel.objects.create(name="hook", url=f"json://127.0.0.1:{httpserver.port}/hook")
    fire_disk_alert(make_rule)
    (delivery,) = notify_unprocessed(T0)
    assert delivery.status == "retrying"
    assert "503" in delivery.error
    assert Delivery.objects.get().error == delivery.error


@pytest.mark.security
def test_a_failing_channel_never_shows_the_secret_of_its_url(make_rule, admin_client):
    NotificationChannel.objects.create(
        name="mail",
        url=f"mailto://alerts:s3cr3t-pw@127.0.0.1:{free_port()}?from=alerts@example.com&to=ops@example.com&mode=insecure",
    )
    fire_disk_alert(make_rule)
    (delivery,) = notify_unprocessed(T0)
    assert delivery.status == "retrying" and delivery.error
    assert "s3cr3t-pw" not in delivery.error
    assert "s3cr3t-pw" not in admin_client.get("/admin/alerting/notificationchannel/").content.decode()
    assert "s3cr3t-pw" not in admin_client.get("/admin/alerting/delivery/").content.decode()
