"""Named ranges end now; a custom range is checked before any query runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.ranges import RangeError, time_range_parse

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("key", "span"), [("1h", timedelta(hours=1)), ("24h", timedelta(days=1)),
                                           ("7d", timedelta(days=7)), ("30d", timedelta(days=30)),
                                           ("1y", timedelta(days=365))])
def test_named_ranges_end_now(key, span):
    parsed = time_range_parse(key=key, now=NOW)
    assert (parsed.key, parsed.start, parsed.end) == (key, NOW - span, NOW)


def test_without_a_range_the_last_day_is_shown():
    assert time_range_parse(now=NOW).key == "24h"


def test_a_custom_range_ends_now_unless_told():
    custom = time_range_parse(start="2026-11-01T00:00:00Z", now=NOW)
    assert (custom.key, custom.start, custom.end) == ("custom", datetime(2026, 11, 1, tzinfo=UTC), NOW)


@pytest.mark.parametrize(("start", "end", "words"), [
    ("yesterday", "", "not a date"),
    ("2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z", "before the end"),
    ("2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "at most 366 days"),
])
def test_bad_custom_ranges_are_refused_with_a_reason(start, end, words):
    with pytest.raises(RangeError, match=words):
        time_range_parse(start=start, end=end, now=NOW)


def test_an_unknown_range_is_refused():
    with pytest.raises(RangeError, match="Unknown range"):
        time_range_parse(key="5y", now=NOW)
