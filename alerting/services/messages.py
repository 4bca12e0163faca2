"""Notification texts: what, where, since when, the observed value, and a link to the alert in the portal.

Rendered under the channel's language (translation.override), so a Japanese channel gets Japanese text once the
catalog exists, whatever language the evaluating worker runs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from alerting.models import AlertState, AlertTransition, NotificationChannel
from opsportal.lib.humanize import time_ago


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    level: str  # "info", "success", "warning" or "failure" (apprise's notify types)


def message_render(*, transition: AlertTransition | None, channel: NotificationChannel, now: datetime) -> Message:
    with translation.override(channel.language):
        if transition is None:
            return _test_message(channel, now)
        return _transition_message(transition, now)


def _transition_message(transition: AlertTransition, now: datetime) -> Message:
    alert = transition.alert
    rule = alert.rule
    if transition.new_state == AlertState.RESOLVED:
        head = gettext("RESOLVED")
        level = "success"
    elif transition.is_reminder:
        head = gettext("STILL FIRING")
        level = "failure" if rule.severity == "critical" else "warning"
    else:
        head = gettext("FIRING")
        level = "failure" if rule.severity == "critical" else "warning"
    # The default rules' names and descriptions are stored in English but marked for the catalog (defaults.py):
    # translated when unchanged, shown as typed once an admin edits them.
    name = gettext(rule.name)
    title = f"[{head}] {name} ({alert.labels_display})"
    lines = [
        f"{name} — {rule.get_severity_display()}",
        gettext("What: %(condition)s") % {"condition": rule.condition_text()},
        gettext("Where: %(labels)s") % {"labels": alert.labels_display},
    ]
    if transition.new_state == AlertState.RESOLVED:
        lines.append(gettext("Resolved at: %(at)s") % {"at": _when(transition.happened_at)})
        if alert.fired_at:
            lines.append(gettext("Was firing since: %(at)s") % {"at": _when(alert.fired_at)})
    else:
        since = alert.active_since or transition.happened_at
        lines.append(gettext("Since: %(at)s (%(ago)s)") % {"at": _when(since), "ago": time_ago(since, now)})
    if transition.value is not None:
        lines.append(gettext("Observed value: %(value)s") % {"value": f"{transition.value:g}"})
    if transition.message:
        lines.append(gettext("Details: %(message)s") % {"message": transition.message})
    if rule.description:
        lines.append(gettext(rule.description))
    lines.append(gettext("Open in OpsPortal: %(url)s") % {"url": alert_url(alert.pk)})
    return Message(title=title, body="\n".join(lines), level=level)


def _test_message(channel: NotificationChannel, now: datetime) -> Message:
    return Message(
        title=gettext("[TEST] OpsPortal notification channel “%(name)s”") % {"name": channel.name},
        body="\n".join(
            [
                gettext("This is a test notification sent from the OpsPortal admin at %(at)s.") % {"at": _when(now)},
                gettext("If you can read this, alerts will reach you here."),
                gettext("Open in OpsPortal: %(url)s") % {"url": settings.PORTAL_URL + reverse("admin:index")},
            ]
        ),
        level="info",
    )


def alert_url(alert_id: int) -> str:
    return settings.PORTAL_URL + reverse("admin:alerting_alert_change", args=[alert_id])


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")
