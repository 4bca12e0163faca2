"""Template filters for numbers people read: `{{ run.drill_rto_seconds|seconds }}`, `{{ p95|milliseconds }}`,
`{{ run.finished_at|ago }}`."""

from __future__ import annotations

from django import template

from opsportal.lib.humanize import (
    format_milliseconds,
    format_number,
    format_seconds,
    format_whole_milliseconds,
    time_ago,
)

register = template.Library()
register.filter("seconds", format_seconds)
register.filter("milliseconds", format_milliseconds)
register.filter("human_number", format_number)
register.filter("whole_milliseconds", format_whole_milliseconds)
register.filter("ago", time_ago)  # "9 minutes ago" as one sentence: {{ run.finished_at|ago }}
