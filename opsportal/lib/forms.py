"""Form fields shared by the admins: one duration syntax everywhere, the one `.env.example` documents."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from opsportal.lib.config import format_duration, parse_duration


class HumanDurationField(forms.DurationField):
    """Accepts 30s, 5m, 1h30m, 7d, 250ms, a bare number of seconds, and Django's HH:MM:SS; shows 5m, 1h30m."""

    default_error_messages = {
        "invalid": _("Enter a duration such as 30s, 5m, 1h30m, 7d or 01:30:00."),
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", _("For example 30s, 5m, 1h30m or 7d (or HH:MM:SS)."))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, timedelta):
            return format_duration(value)
        return value

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            try:
                return parse_duration(value)
            except ValueError:
                pass  # perhaps Django's own form: HH:MM:SS, "1 02:00:00"
        return super().to_python(value)
