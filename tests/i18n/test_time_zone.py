"""TIME_ZONE changes what is shown, never what is stored: times are kept in UTC and displayed in local time, in
the format of the page's language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.urls import reverse

from tests.backups.conftest import make_run

pytestmark = pytest.mark.django_db

CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 18:00 in Tokyo


@pytest.fixture
def admin(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_a_run_page_shows_tokyo_time_in_japanese_format_and_the_database_keeps_utc(admin, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    run = make_run(created_at=CREATED)
    url = reverse("admin:backups_backuprun_change", args=[run.pk])

    japanese = admin.get(url, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "2026年3月2日18:00" in japanese  # Django's ja DATETIME_FORMAT, local time
    assert f"#{run.pk} 成功 (2026-03-02 18:00)" in japanese  # the run's name, in the title, local time too
    english = admin.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "March 2, 2026, 6 p.m." in english

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM backups_backuprun "
                       "WHERE id = %s", [run.pk])
        assert cursor.fetchone()[0] == "2026-03-02 09:00"
    run.refresh_from_db()
    assert run.created_at == CREATED


def test_the_same_run_in_utc_shows_utc(admin, settings):
    settings.TIME_ZONE = "UTC"
    run = make_run(created_at=CREATED)
    page = admin.get(reverse("admin:backups_backuprun_change", args=[run.pk]), HTTP_ACCEPT_LANGUAGE="ja")
    assert "2026年3月2日9:00" in page.content.decode()

