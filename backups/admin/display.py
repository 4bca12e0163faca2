"""Small display helpers shared by the backups admin pages and the overview."""

from __future__ import annotations

from datetime import timedelta

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

BADGE_COLOURS = {
    "queued": "#6c757d",
    "running": "#0d6efd",
    "succeeded": "#198754",
    "failed": "#dc3545",
    "refused": "#b35c00",
}


def status_badge(status: str, label: str) -> SafeString:
    return format_html(
        '<span class="backup-status backup-status-{}" style="background:{};color:#fff;padding:1px 8px;'
        'border-radius:9px;white-space:nowrap">{}</span>',
        status,
        BADGE_COLOURS.get(status, "#6c757d"),
        label,
    )


def human_duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return gettext("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return gettext("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": seconds}
    return gettext("%(seconds)d s") % {"seconds": seconds}
