"""Sending one message through one channel: returns when the channel accepted it, raises a SendError otherwise.

PermanentSendError means another attempt cannot help (a URL Apprise does not understand or that cannot be decrypted,
an HTTP 4xx other than 408/429, an SMTP 5xx refusal); TransientSendError is anything else (connection refused, a
timeout, HTTP 5xx or 429), which the deliver task retries with backoff.
"""

from __future__ import annotations

import logging
import re
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.translation import gettext

from alerting.models import ChannelKind, NotificationChannel
from alerting.services.messages import Message

_SEVERE = {"WARNING", "ERROR", "CRITICAL"}
# Apprise's HTTP plugins end their failure entry with "error=<HTTP status>." (custom_json, slack, msteams, ntfy, ...).
_HTTP_STATUS = re.compile(r"\berror=(\d{3})\b")
_RETRYABLE_4XX = {408, 429}  # Request Timeout, Too Many Requests


class SendError(Exception):
    """The channel did not accept the message; str() is the reason recorded on the delivery (never a secret)."""

    permanent = False


class TransientSendError(SendError):
    """Worth another attempt later."""


class PermanentSendError(SendError):
    """Another attempt would fail the same way; the channel's configuration or the peer must change first."""

    permanent = True


def channel_send(*, channel: NotificationChannel, message: Message) -> None:
    if channel.kind == ChannelKind.DJANGO_ADMINS:
        _send_to_admins(message)
        return
    if channel.url_is_unreadable:
        raise PermanentSendError(
            gettext(
                "The channel's URL cannot be decrypted (was SECRET_KEY changed without keeping the old key in "
                "SECRET_KEY_FALLBACKS?); enter it again."
            )
        )
    _send_with_apprise(channel.url, message)


def http_status_is_permanent(status: int) -> bool:
    return 400 <= status < 500 and status not in _RETRYABLE_4XX


def _send_with_apprise(url: str, message: Message) -> None:
    import apprise  # here, not at the top: ~120 ms that every start-up (manage.py backup, web workers) would pay

    sender = apprise.Apprise()
    if not sender.add(url):
        raise PermanentSendError(gettext("Apprise does not understand the channel's URL."))
    result = sender.notify(
        body=message.body,
        title=message.title,
        notify_type=message.level,
        # Plain text in, so email keeps the line breaks and Slack/Teams do not reinterpret markup.
        body_format=apprise.NotifyFormat.TEXT,
        timeout=settings.ALERTING_DELIVERY_TIMEOUT.total_seconds(),
        log_level=logging.WARNING,
    )
    if result:
        return
    # Apprise reports why in its log entries (connection refused, HTTP 500, SMTP refusal); they name the host,
    # never the URL's credentials.
    reasons = list(dict.fromkeys(entry.message for entry in result.logs() if entry.level in _SEVERE))
    reason = "; ".join(reasons) or f"Apprise: {result.status.name}"
    statuses = [int(found) for text in reasons for found in _HTTP_STATUS.findall(text)]
    if statuses and all(http_status_is_permanent(status) for status in statuses):
        raise PermanentSendError(reason)
    raise TransientSendError(reason)


def _smtp_refusal_is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _send_to_admins(message: Message) -> None:
    recipients = [address for _, address in settings.ADMINS]
    if not recipients:
        # Transient on purpose: the settings can be fixed and the worker restarted before the attempts run out.
        raise TransientSendError(
            gettext("ADMINS is empty: set ADMINS to the addresses that should receive alerts.")
        )
    timeout = settings.ALERTING_DELIVERY_TIMEOUT.total_seconds()
    try:
        EmailMessage(
            subject=f"{settings.EMAIL_SUBJECT_PREFIX}{message.title}",
            body=message.body,
            from_email=settings.SERVER_EMAIL,
            to=recipients,
            connection=get_connection(fail_silently=False, timeout=timeout),
        ).send()
    except Exception as exc:  # any transport error becomes the delivery's error text
        error_class = PermanentSendError if _smtp_refusal_is_permanent(exc) else TransientSendError
        raise error_class(f"{type(exc).__name__}: {exc}") from exc
