"""Sending one message through one channel. Returns the error text, or "" when the channel accepted it."""

from __future__ import annotations

import logging

import apprise
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.translation import gettext

from alerting.models import ChannelKind, NotificationChannel
from alerting.services.messages import Message

_SEVERE = {"WARNING", "ERROR", "CRITICAL"}


def channel_send(*, channel: NotificationChannel, message: Message) -> str:
    if channel.kind == ChannelKind.DJANGO_ADMINS:
        return _send_to_admins(message)
    if channel.url_is_unreadable:
        return gettext(
            "The channel's URL cannot be decrypted (was SECRET_KEY changed without keeping the old key in "
            "SECRET_KEY_FALLBACKS?); enter it again."
        )
    return _send_with_apprise(channel.url, message)


def _send_with_apprise(url: str, message: Message) -> str:
    sender = apprise.Apprise()
    if not sender.add(url):
        return gettext("Apprise does not understand the channel's URL.")
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
        return ""
    # Apprise reports why in its log entries (connection refused, HTTP 500, SMTP refusal); they name the host,
    # never the URL's credentials.
    reasons = [entry.message for entry in result.logs() if entry.level in _SEVERE]
    return "; ".join(dict.fromkeys(reasons)) or f"Apprise: {result.status.name}"


def _send_to_admins(message: Message) -> str:
    recipients = [address for _, address in settings.ADMINS]
    if not recipients:
        return gettext("ADMINS is empty: set ADMINS to the addresses that should receive alerts.")
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
        return f"{type(exc).__name__}: {exc}"
    return ""
