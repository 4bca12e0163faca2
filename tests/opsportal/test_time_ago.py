""""How long ago" is one translated sentence per unit ("9 minutes ago" → "9分前"), never Django's timesince ("9 分")
glued to a separate "ago" ("%(age)s 前"), which put a space inside Japanese text ("9分 前").

The Japanese assertions pass once the lead has translated the new msgids (`%(num)d minute ago` and its siblings,
`checked %(ago)s`, `%(ago)s, %(size)s`, `%(ago)s, RTO %(rto)s`): see the report of branch `console`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from opsportal.lib.humanize import time_ago

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("delta", "english"), [
    (timedelta(seconds=20), "just now"),
    (timedelta(minutes=1, seconds=5), "1 minute ago"),
    (timedelta(minutes=9, seconds=59), "9 minutes ago"),
    (timedelta(hours=4, minutes=58), "4 hours ago"),
    (timedelta(days=1, hours=3), "1 day ago"),
    (timedelta(days=15), "2 weeks ago"),
    (timedelta(days=65), "2 months ago"),
    (timedelta(days=800), "2 years ago"),
])  # fmt: skip
def test_the_largest_whole_unit_in_one_sentence(delta, english):
    with translation.override("en"):
        assert time_ago(NOW - delta, NOW) == english


def test_nothing_to_say_is_a_dash():
    assert time_ago(None) == "—"


@pytest.mark.parametrize(("delta", "japanese"), [
    (timedelta(minutes=9), "9分前"),
    (timedelta(hours=4, minutes=58), "4時間前"),
    (timedelta(days=3), "3日前"),
])  # fmt: skip
def test_japanese_has_no_space_between_the_number_and_ago(delta, japanese):
    with translation.override("ja"):
        assert time_ago(NOW - delta, NOW) == japanese


def test_the_template_filter_writes_the_same_sentence():
    template = Template("{% load opsportal_numbers %}{{ when|ago }}")
    when = timezone.now() - timedelta(minutes=9, seconds=5)  # `ago` measures against the real clock
    with translation.override("en"):
        assert template.render(Context({"when": when})) == "9 minutes ago"
    with translation.override("ja"):
        assert template.render(Context({"when": when})) == "9分前"
