"""The shared formatter: the numbers of the issue's screenshots, and where each unit takes over."""

from __future__ import annotations

import pytest

from opsportal.lib.humanize import format_milliseconds, format_number, format_seconds


@pytest.mark.parametrize(("seconds", "text"), [
    (0.6999860160000253, "0.70 s"),  # a restore drill's RTO
    (4.24, "4.2 s"),
    (11.074185999973452, "11.1 s"),
    (59.94, "59.9 s"),
    (75.2, "1 min 15 s"),
    (3900, "1 h 05 min"),
    (None, "—"),
])  # fmt: skip
def test_seconds(seconds, text):
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(("ms", "text"), [
    (156.30000000004657, "156 ms"),  # a probe result
    (547.5083150000001, "548 ms"),  # a delivery
    (11.074185999973452, "11.1 ms"),  # a health snapshot
    (0.4321, "0.43 ms"),
    (1234.5678, "1.2 s"),
    (None, "—"),
])  # fmt: skip
def test_milliseconds(ms, text):
    assert format_milliseconds(ms) == text


@pytest.mark.parametrize(("value", "text"), [(91.66666666666667, "91.67"), (1234.56789, "1234.6"), (90.0, "90"),
                                             (None, "—")])
def test_unitless_numbers(value, text):
    assert format_number(value) == text
