"""Silences suppress notifications (transitions are still recorded); acknowledging stops reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from alerting.models import Alert, AlertTransition, Silence
from alerting.services import alerts_evaluate
from tests.alerting.conftest import T0, metric, notify_unprocessed, webhook_payloads

pytestmark = pytest.mark.django_db


def observe(value: float, *hosts: str) -> None:
    """The disk of each host is `value` percent used."""
    now = timezone.now()
    alerts_evaluate(observations=[metric("disk_used_percent", value, now, host=h, path="/") for h in hosts], now=now)
    notify_unprocessed(now)


def test_a_silence_suppresses_notifications_but_transitions_are_recorded(make_rule, webhook_channel, httpserver):
    rule = make_rule(for_duration=timedelta(0), resolve_after=timedelta(0), repeat_interval=timedelta(hours=1))
    Silence.objects.create(
        rule=rule, matchers={"host": "db1"}, starts_at=T0, ends_at=T0 + timedelta(minutes=90), comment="disk swap"
    )
    with time_machine.travel(T0, tick=False) as clock:
        observe(95, "db1", "web1")  # web1 is not matched by the silence
        clock.shift(timedelta(hours=1))
        observe(95, "db1")  # reminder, still silenced; web1 resolves
        clock.shift(timedelta(hours=1))
        observe(95, "db1")  # reminder after the silence ended: sent
    hosts = [
        (p["title"].split("]")[0], p["title"].split("host=")[1].split(",")[0]) for p in webhook_payloads(httpserver)
    ]
    assert hosts == [("[FIRING", "web1"), ("[RESOLVED", "web1"), ("[STILL FIRING", "db1")]
    silenced = AlertTransition.objects.filter(alert__labels__host="db1", silenced=True)
    assert [(t.old_state, t.new_state) for t in silenced.order_by("pk")] == [("", "firing"), ("firing", "firing")]


def test_a_resolve_during_a_maintenance_window_is_not_notified(make_rule, webhook_channel, httpserver):
    make_rule(for_duration=timedelta(0), resolve_after=timedelta(0))
    with time_machine.travel(T0, tick=False) as clock:
        observe(95, "db1")
        Silence.objects.create(starts_at=T0, ends_at=T0 + timedelta(hours=2), comment="planned maintenance")
        clock.shift(timedelta(minutes=5))
        observe(10, "db1")
    assert [p["title"].split("]")[0] for p in webhook_payloads(httpserver)] == ["[FIRING"]
    assert Alert.objects.get().state == "resolved"
    assert AlertTransition.objects.get(new_state="resolved").silenced


def test_admin_silence_and_acknowledge_actions(make_rule, admin_client, admin_user, webhook_channel, httpserver):
    rule = make_rule(for_duration=timedelta(0), repeat_interval=timedelta(minutes=30))
    with time_machine.travel(T0, tick=False) as clock:
        observe(95, "db1", "web1")
        db1 = Alert.objects.get(labels__host="db1")
        web1 = Alert.objects.get(labels__host="web1")
        response = admin_client.post(
            "/admin/alerting/alert/", {"action": "silence_1h", "_selected_action": [db1.pk]}, follow=True
        )
        assert "1 alert silenced for 1 h." in response.content.decode()
        silence = Silence.objects.get()
        assert (silence.rule, silence.matchers) == (rule, {"host": "db1", "path": "/"})
        assert (silence.starts_at, silence.ends_at) == (T0, T0 + timedelta(hours=1))
        assert silence.created_by == admin_user
        admin_client.post("/admin/alerting/alert/", {"action": "silence_24h", "_selected_action": [db1.pk]})
        assert Silence.objects.order_by("-ends_at").first().ends_at == T0 + timedelta(hours=24)

        response = admin_client.post(
            "/admin/alerting/alert/", {"action": "acknowledge", "_selected_action": [web1.pk]}, follow=True
        )
        assert "1 firing alert acknowledged." in response.content.decode()
        clock.shift(timedelta(hours=2))
        observe(95, "db1", "web1")
    # db1 silenced, web1 acknowledged: only the two first notifications went out
    assert len(httpserver.log) == 2
    web1.refresh_from_db()
    assert web1.acknowledged_by == admin_user


def test_the_silence_form_refuses_an_end_before_the_start(admin_client):
    response = admin_client.post(
        "/admin/alerting/silence/add/",
        {
            "starts_at_0": "2026-03-02",
            "starts_at_1": "10:00:00",
            "ends_at_0": "2026-03-02",
            "ends_at_1": "09:00:00",
            "matchers": "{}",
            "comment": "oops",
        },
    )
    assert "A silence must end after it starts." in response.content.decode()
    assert not Silence.objects.exists()


@pytest.mark.security
def test_a_user_who_may_only_view_alerts_cannot_silence_them(client, django_user_model, make_rule):
    from django.contrib.auth.models import Permission

    make_rule(for_duration=timedelta(0))
    observe(95, "db1")  # the action menu only appears over a non-empty list

    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_alert"))
    client.login(username="viewer", password="pw-viewer-1")
    page = client.get("/admin/alerting/alert/").content.decode()
    assert "Silence for 1 h" not in page and "Acknowledge (" not in page
    viewer.user_permissions.add(Permission.objects.get(codename="add_silence"))
    page = client.get("/admin/alerting/alert/").content.decode()
    assert "Silence for 1 h" in page and "Acknowledge (" in page
