"""The time ranges the history dashboard offers, and parsing of a custom range from the query string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

RANGES: dict[str, tuple[timedelta, object]] = {
    "1h": (timedelta(hours=1), _("1 hour")),
    "24h": (timedelta(hours=24), _("24 hours")),
    "7d": (timedelta(days=7), _("7 days")),
    "30d": (timedelta(days=30), _("30 days")),
    "1y": (timedelta(days=365), _("1 year")),
}
DEFAULT_RANGE = "24h"
MAX_SPAN = timedelta(days=366)


class RangeError(ValueError):
    pass


@dataclass(frozen=True)
class TimeRange:
    key: str  # one of RANGES, or "custom"
    start: datetime
    end: datetime


def _moment(text: str, name: str) -> datetime:
    # <input type="datetime-local"> sends "2026-11-28T10:00" in the browser's local time, which the page converts
    # to UTC ISO before asking; a naive value is read in the portal's time zone.
    moment = parse_datetime(text)
    if moment is None:
        raise RangeError(_("%(name)s is not a date and time: %(value)s") % {"name": name, "value": text[:40]})
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def time_range_parse(*, key: str = "", start: str = "", end: str = "", now: datetime | None = None) -> TimeRange:
    """A named range ending now, or a custom one (start, end; end defaults to now); at most a year and a day."""
    now = now or timezone.now()
    if start:
        begin = _moment(start, "start")
        finish = _moment(end, "end") if end else now
        if begin >= finish:
            raise RangeError(_("The start must be before the end."))
        if finish - begin > MAX_SPAN:
            raise RangeError(_("A custom range spans at most 366 days."))
        return TimeRange("custom", begin, finish)
    key = key or DEFAULT_RANGE
    if key not in RANGES:
        raise RangeError(_("Unknown range: %(key)s") % {"key": key[:20]})
    return TimeRange(key, now - RANGES[key][0], now)
