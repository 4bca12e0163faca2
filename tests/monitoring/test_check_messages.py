"""Check messages are stored as a message id with its parameters and read in the reader's language: the admin, the
overview and the API of a Japanese reader show Japanese, an English reader English; old rows keep their text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import translation

from monitoring.checks.base import CheckOutcome as Result
from monitoring.checks.celery import _duration
from monitoring.messages import Message, render_message
from monitoring.models import HealthSnapshot, Status
from monitoring.services import health_snapshot_take
from tests.monitoring.conftest import HEALTH_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

JA = {"HTTP_ACCEPT_LANGUAGE": "ja"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def snapshot(settings) -> HealthSnapshot:
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker"]  # no worker, no engine needed for this
    taken = health_snapshot_take()
    assert taken is not None
    return taken


def test_a_snapshot_stores_each_message_as_an_id_and_parameters(snapshot):
    cpu = snapshot.results.get(check_name="cpu")
    assert cpu.message_id == "load %(load).2f per core over 5 min (%(cores)d cores)"
    assert set(cpu.message_params) == {"load", "cores"}
    assert cpu.message.startswith("load ")  # the text in LANGUAGE_CODE (en) stays beside it
    disk = snapshot.results.get(check_name="disk")
    assert disk.message_id  # two paths: one joined message whose parts keep their own ids
    assert "%(path)s %(percent).0f%% used" in str(disk.message_params)


def test_the_admin_shows_check_messages_in_the_readers_language(admin_client, snapshot):
    cpu = snapshot.results.get(check_name="cpu")
    with translation.override("ja"):
        japanese = cpu.display_message
    assert japanese.startswith("5 分間のコアあたり負荷")
    page = admin_client.get(f"/admin/monitoring/healthsnapshot/{snapshot.pk}/change/", **JA).content.decode()
    assert japanese in page
    assert cpu.message not in page
    listing = admin_client.get("/admin/monitoring/checkresult/", **JA).content.decode()
    assert japanese in listing
    english = admin_client.get(f"/admin/monitoring/healthsnapshot/{snapshot.pk}/change/", **EN).content.decode()
    assert cpu.message in english


def test_the_overview_shows_problems_in_the_readers_language(admin_client, settings):
    settings.MONITOR_DISK_WARNING = 0  # every path "used" beyond the threshold: the disk check reads warning
    settings.MONITOR_DISK_CRITICAL = 100
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker"]
    snapshot = health_snapshot_take()
    disk = snapshot.results.get(check_name="disk")
    assert disk.status != Status.OK
    with translation.override("ja"):
        japanese = disk.display_message
    assert "使用率" in japanese
    overview = admin_client.get("/admin/", **JA).content.decode()
    assert japanese in overview
    assert disk.message not in overview


def test_rows_written_before_message_ids_show_their_text(admin_client):
    snapshot = HealthSnapshot.objects.create(taken_at="2026-11-01T10:00:00Z", status=Status.WARNING, duration_ms=3)
    snapshot.results.create(taken_at=snapshot.taken_at, check_name="disk", status=Status.WARNING, duration_ms=1,
                            message="/ 91 % used (an old row)")
    page = admin_client.get(f"/admin/monitoring/healthsnapshot/{snapshot.pk}/change/", **JA).content.decode()
    assert "/ 91 % used (an old row)" in page


def test_the_api_keeps_the_text_and_gives_the_id_and_parameters(client, settings):
    settings.MONITOR_DISABLED_CHECKS = ["celery"]
    body = client.get("/api/system/health", HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}", **JA).json()
    cpu = next(check for check in body["checks"] if check["name"] == "cpu")
    assert cpu["message"].startswith("load ")  # LANGUAGE_CODE's text, whoever asks
    assert cpu["message_id"] == "load %(load).2f per core over 5 min (%(cores)d cores)"
    with translation.override("en"):
        assert render_message(cpu["message_id"], cpu["message_params"]) == cpu["message"]


def test_host_reports_keep_message_ids_through_their_json():
    result = Result(name="cpu", status=Status.OK)
    message = Message("load %(load).2f per core over 5 min (%(cores)d cores)", {"load": 0.5, "cores": 2})
    result.message_id, result.message_params = message.msgid, message.data_params()
    again = Result.from_dict(result.to_dict())
    with translation.override("ja"):
        assert again.display_message == "5 分間のコアあたり負荷 0.50 (2 コア)"


def test_nested_and_plural_messages_render_in_the_readers_language():
    beat = Message("celery beat last ticked %(age)s ago", {"age": _duration(timedelta(minutes=7))})
    pending = Message("%(count)d unapplied migration: %(names)s", {"count": 2, "names": "a.0001, b.0002"},
                      plural="%(count)d unapplied migrations: %(names)s", count="count")
    with translation.override("en"):
        assert beat.render() == "celery beat last ticked 7 min ago"
        assert pending.render() == "2 unapplied migrations: a.0001, b.0002"
        assert Message.join([beat, pending]).render() == ("celery beat last ticked 7 min ago; "
                                                          "2 unapplied migrations: a.0001, b.0002")
    with translation.override("ja"):
        assert "min" not in beat.render() and "ago" not in beat.render()
        assert "unapplied" not in pending.render()


def test_a_translation_that_does_not_fit_its_parameters_falls_back_to_english():
    with translation.override("en"):
        assert render_message("%(missing)s is gone", {"other": 1}, "stored text") == "stored text"
        assert render_message("%(n)d s", {"n": 3}) == "3 s"
