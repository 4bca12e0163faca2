"""Numbers for people: durations with a unit and sensible precision, coloured status badges.

Used by every admin and the operations overview; the JSON APIs keep the raw numbers (full precision).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext_lazy

EMPTY = "—"

# One colour per meaning, whatever the app calls it: green done/healthy, blue in progress, orange needs a look,
# red failed, grey waiting or unknown.
GREEN, BLUE, ORANGE, RED, GREY = "#198754", "#0d6efd", "#b35c00", "#dc3545", "#6c757d"
STATUS_COLOURS = {
    # backups
    "queued": GREY, "running": BLUE, "succeeded": GREEN, "failed": RED, "refused": ORANGE,
    # monitoring
    "ok": GREEN, "warning": ORANGE, "critical": RED,
    # alerting (alert states, deliveries, severities)
    "pending": GREY, "firing": RED, "resolved": GREEN,
    "sending": BLUE, "retrying": ORANGE, "sent": GREEN, "info": BLUE,
    # performance
    "unavailable": GREY, "not_measured": GREY, "within_budget": GREEN, "over_budget": ORANGE, "failing": RED,
}  # fmt: skip


def status_badge(status: str, label: str, *, kind: str = "status") -> SafeString:
    """A coloured pill; `kind` names its CSS classes (`backup-status backup-status-failed`) for pages and tests."""
    return format_html(
        '<span class="{kind}-status {kind}-status-{}" style="background:{};color:#fff;padding:1px 8px;'
        'border-radius:9px;white-space:nowrap">{}</span>',
        status,
        STATUS_COLOURS.get(status, GREY),
        label,
        kind=kind,
    )


def _number(value: float, decimals: int) -> str:
    return number_format(round(value, decimals), decimal_pos=decimals)


def format_seconds(seconds: float | None) -> str:
    """0.6999860160000253 → "0.70 s", 11.074 → "11.1 s", 75 → "1 min 15 s", 3900 → "1 h 05 min"."""
    if seconds is None:
        return EMPTY
    if seconds < 60:
        decimals = 2 if seconds < 1 else 1
        return gettext("%(value)s s") % {"value": _number(seconds, decimals)}
    return human_duration(timedelta(seconds=seconds))


def format_milliseconds(ms: float | None) -> str:
    """156.30000000004657 → "156 ms", 11.07 → "11.1 ms", 0.4 → "0.40 ms", 11074.2 → "11.1 s"."""
    if ms is None:
        return EMPTY
    if ms >= 1000:
        return format_seconds(ms / 1000)
    decimals = 2 if ms < 1 else 1 if ms < 100 else 0
    return gettext("%(value)s ms") % {"value": _number(ms, decimals)}


def format_whole_milliseconds(ms: float | None) -> str:
    """Always whole ms (1450.2 → "1450 ms"): for a p95 shown beside a budget the operator typed in ms."""
    if ms is None:
        return EMPTY
    return gettext("%(value)s ms") % {"value": _number(ms, 0)}


def format_number(value: float | None) -> str:
    """A unit-less measurement (a metric's value): at most two decimals, none when it is a whole number."""
    if value is None:
        return EMPTY
    if float(value).is_integer():
        return number_format(int(value))
    return _number(value, 2 if abs(value) < 100 else 1)


def format_bytes(value: int | None) -> str:
    return EMPTY if value is None else str(filesizeformat(value))


def human_duration(value: timedelta | None) -> str:
    """A wall-clock span to the second: "12 s", "1 min 15 s", "2 h 05 min"."""
    if value is None:
        return EMPTY
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return gettext("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return gettext("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": seconds}
    return gettext("%(seconds)d s") % {"seconds": seconds}


FORMATTERS = {"ms": format_milliseconds, "s": format_seconds, "bytes": format_bytes, "number": format_number}


# (seconds in the unit, its sentence): each a whole sentence with its number, so that every language writes
# "9 minutes ago" its own way ("9分前"), not "%(age)s ago" around Django's "9 minutes". ngettext_lazy with "num"
# picks singular or plural from the number given at formatting time, and lets makemessages find each pair.
_AGO_UNITS = (
    (365 * 86400, ngettext_lazy("%(num)d year ago", "%(num)d years ago", "num")),
    (30 * 86400, ngettext_lazy("%(num)d month ago", "%(num)d months ago", "num")),
    (7 * 86400, ngettext_lazy("%(num)d week ago", "%(num)d weeks ago", "num")),
    (86400, ngettext_lazy("%(num)d day ago", "%(num)d days ago", "num")),
    (3600, ngettext_lazy("%(num)d hour ago", "%(num)d hours ago", "num")),
    (60, ngettext_lazy("%(num)d minute ago", "%(num)d minutes ago", "num")),
)


def time_ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago `value` was, in its largest whole unit, as one translated sentence: "9 minutes ago"."""
    if value is None:
        return EMPTY
    seconds = int(((now or timezone.now()) - value).total_seconds())
    if seconds < 60:
        return gettext("just now")
    for size, sentence in _AGO_UNITS:
        if seconds >= size:
            return str(sentence % {"num": seconds // size})
    raise AssertionError("unreachable: a minute or more matches the minute unit")
