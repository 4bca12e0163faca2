"""What the admin index shows: firing alerts (most urgent first) and failing channels, through the include."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from alerting.models import NotificationChannel
from alerting.selectors import channels_failing, firing_alerts
from alerting.services import alerts_evaluate
from tests.alerting.conftest import metric

pytestmark = pytest.mark.django_db


def test_the_overview_include_lists_firing_alerts_and_failing_channels(make_rule):
    make_rule(name="Disk almost full", for_duration=timedelta(0))
    make_rule(name="Memory", metric_name="memory_used_percent", for_duration=timedelta(minutes=5))
    make_rule(name="Disabled", metric_name="cpu_percent", for_duration=timedelta(0), enabled=False)
    now = timezone.now() - timedelta(minutes=30)
    alerts_evaluate(
        observations=[
            metric("disk_used_percent", 97, now, host="db1", path="/"),
            metric("memory_used_percent", 97, now, host="db1"),  # pending, not firing
            metric("cpu_percent", 100, now, host="db1"),
        ],
        now=now,
    )
    NotificationChannel.objects.create(name="teams", url="json://127.0.0.1:9/x", consecutive_failures=2)
    NotificationChannel.objects.create(name="fine", url="json://127.0.0.1:9/y")

    html = render_to_string(
        "alerting/_firing_alerts.html", {"firing_alerts": firing_alerts(), "failing_channels": channels_failing()}
    )
    assert [a.rule.name for a in firing_alerts()] == ["Disk almost full"]
    assert "Disk almost full" in html and "host=db1, path=/" in html and "30\xa0minutes" in html
    assert "Memory" not in html and "Disabled" not in html
    assert "Notification channels failing:" in html and "teams" in html and "fine" not in html


def test_the_overview_include_says_when_nothing_fires():
    html = render_to_string("alerting/_firing_alerts.html", {"firing_alerts": [], "failing_channels": []})
    assert "No alert is firing." in html
    assert "failing" not in html
