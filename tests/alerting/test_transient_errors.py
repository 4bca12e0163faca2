"""Permanent delivery errors (bad URL, HTTP 4xx but 408/429) fail at once with their reason; transient ones retry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerting.models import Delivery, NotificationChannel
from alerting.services import channel_test_send, delivery_attempt
from alerting.services.notifications import retry_countdown
from alerting.tasks import deliver
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.django_db


def _attempt(channel: NotificationChannel) -> Delivery:
    return delivery_attempt(delivery_id=channel_test_send(channel=channel).pk)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_an_http_4xx_fails_at_once_with_its_reason(httpserver, status):
    httpserver.expect_request("/hook", method="POST").respond_with_data("no such hook", status=status)
    channel = NotificationChannel.objects.create(name="hook", url=f"json://127.0.0.1:{httpserver.port}/hook")
    delivery = _attempt(channel)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert delivery.error.startswith("Permanent error, not retried:") and f"error={status}" in delivery.error
    channel.refresh_from_db()
    assert channel.consecutive_failures == 1 and channel.last_error == delivery.error
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_timeouts_throttling_and_5xx_are_retried(httpserver, status):
    httpserver.expect_request("/hook", method="POST").respond_with_data("busy", status=status)
    channel = NotificationChannel.objects.create(name="hook", url=f"json://127.0.0.1:{httpserver.port}/hook")
    delivery = _attempt(channel)
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    assert delivery.next_attempt_at is not None and str(status) in delivery.error
    assert "Permanent" not in delivery.error


def test_a_503_then_200_is_sent_on_the_retry(httpserver):
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("busy", status=503)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    channel = NotificationChannel.objects.create(name="hook", url=f"json://127.0.0.1:{httpserver.port}/hook")
    delivery = _attempt(channel)
    assert delivery.status == "retrying"
    delivery = delivery_attempt(delivery_id=delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 2, "")
    channel.refresh_from_db()
    assert not channel.is_failing


def test_a_dead_port_is_retried():
    channel = NotificationChannel.objects.create(name="dead", url=f"json://127.0.0.1:{free_port()}/hook")
    delivery = _attempt(channel)
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    assert "Connection error" in delivery.error


def test_a_url_apprise_does_not_understand_fails_at_once():
    channel = NotificationChannel.objects.create(name="typo", url="nosuchservice://x")  # saved past the form
    delivery = _attempt(channel)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "Apprise does not understand the channel's URL." in delivery.error


def test_the_retry_countdown_is_the_backoff_plus_up_to_half_again_at_random():
    countdowns = {retry_countdown(remaining=timedelta(seconds=60)) for _ in range(50)}
    assert all(60 <= value <= 90 for value in countdowns)
    assert len(countdowns) > 1  # jittered, not one fixed moment
    assert retry_countdown(remaining=timedelta(seconds=-5)) == 0


@pytest.mark.django_db(transaction=True)
def test_a_worker_retries_only_the_transient_failure(celery_worker_process, httpserver):
    httpserver.expect_request("/gone", method="POST").respond_with_data("gone", status=410)
    httpserver.expect_oneshot_request("/busy", method="POST").respond_with_data("busy", status=503)
    httpserver.expect_request("/busy", method="POST").respond_with_data("ok")
    gone = NotificationChannel.objects.create(name="gone", url=f"json://127.0.0.1:{httpserver.port}/gone")
    busy = NotificationChannel.objects.create(name="busy", url=f"json://127.0.0.1:{httpserver.port}/busy")
    celery_worker_process(queues="monitoring", extra_env={"ALERTING_RETRY_BACKOFF": "1s"})
    for channel in (gone, busy):
        deliver.delay(channel_test_send(channel=channel).pk)
    sent = wait_for(lambda: Delivery.objects.filter(channel=busy, status="sent").first(), timeout=60,
                    what="the busy channel's delivery to be sent on its retry")
    assert sent.attempts == 2
    failed = wait_for(lambda: Delivery.objects.filter(channel=gone, status="failed").first(), timeout=60,
                      what="the gone channel's delivery to fail")
    assert failed.attempts == 1 and "error=410" in failed.error
    assert sum(1 for request, _ in httpserver.log if request.path == "/gone") == 1


class _Refusing:
    """An SMTP server that refuses every recipient with the given reply."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's hook name)
        return self.reply


@pytest.mark.parametrize(
    ("reply", "status"), [("550 5.1.1 no such mailbox", "failed"), ("451 4.3.0 try again later", "retrying")]
)
def test_an_smtp_5xx_refusal_fails_at_once_and_a_4xx_is_retried(settings, reply, status):
    from aiosmtpd.controller import Controller

    controller = Controller(_Refusing(reply), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.ADMINS = [("", "alice@example.com")]
        delivery = _attempt(NotificationChannel.objects.create(name="admins", kind="admins"))
    finally:
        controller.stop()
    assert (delivery.status, delivery.attempts) == (status, 1)
    assert "SMTPRecipientsRefused" in delivery.error and reply.split()[0] in delivery.error
