"""Channel URLs hold passwords and tokens: stored encrypted, shown masked, kept on an edit that leaves them empty."""

from __future__ import annotations

import pytest
from django.db import connection

from alerting.models import Delivery, DeliveryStatus, NotificationChannel
from alerting.services import channel_test_send
from alerting.services.notifications import delivery_attempt

pytestmark = pytest.mark.django_db

SECRET_URL = "json://hookuser:Tok3n-s3cret-771@127.0.0.1:9/hook"
OLD_KEY = "old-secret-key-for-rotation-tests-0123456789-abcdefghij"
NEW_KEY = "new-secret-key-for-rotation-tests-9876543210-zyxwvutsrq"


def _stored_column(channel: NotificationChannel) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM alerting_notificationchannel WHERE id = %s", [channel.pk])
        return cursor.fetchone()[0]


def test_the_url_in_the_database_is_not_plain_text():
    channel = NotificationChannel.objects.create(name="hook", url=SECRET_URL)
    stored = _stored_column(channel)
    assert "Tok3n-s3cret-771" not in stored and "127.0.0.1" not in stored
    assert NotificationChannel.objects.get(pk=channel.pk).url == SECRET_URL


def test_after_a_rotation_the_channel_still_sends_and_a_re_save_uses_the_new_key(settings, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    settings.SECRET_KEY = OLD_KEY
    channel = NotificationChannel.objects.create(name="hook", url=f"json://127.0.0.1:{httpserver.port}/hook")
    old_column = _stored_column(channel)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    channel = NotificationChannel.objects.get(pk=channel.pk)
    delivery_attempt(delivery_id=channel_test_send(channel=channel).pk)
    assert Delivery.objects.get(channel=channel).status == DeliveryStatus.SENT
    channel.save()
    assert _stored_column(channel) != old_column
    settings.SECRET_KEY_FALLBACKS = []
    assert NotificationChannel.objects.get(pk=channel.pk).url == f"json://127.0.0.1:{httpserver.port}/hook"


def test_a_url_from_a_foreign_key_fails_the_delivery_with_a_clear_reason_and_survives_a_save(settings):
    settings.SECRET_KEY = OLD_KEY
    channel = NotificationChannel.objects.create(name="hook", url=SECRET_URL)
    settings.SECRET_KEY = NEW_KEY
    channel = NotificationChannel.objects.get(pk=channel.pk)
    assert channel.url_is_unreadable
    delivery = channel_test_send(channel=channel)
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)  # permanent: not retried
    assert "cannot be decrypted" in delivery.error and "SECRET_KEY_FALLBACKS" in delivery.error
    channel.refresh_from_db()
    channel.save()  # a save that did not touch the URL keeps the token as it was
    settings.SECRET_KEY = OLD_KEY
    assert NotificationChannel.objects.get(pk=channel.pk).url == SECRET_URL


def test_the_admin_never_shows_the_url_back_and_an_empty_edit_keeps_it(admin_client):
    channel = NotificationChannel.objects.create(name="hook", url=SECRET_URL)
    page = admin_client.get(f"/admin/alerting/notificationchannel/{channel.pk}/change/").content.decode()
    assert "Tok3n-s3cret-771" not in page and "hookuser" not in page
    assert "json://••••••••" in page
    form = {"name": "hook renamed", "kind": "apprise", "url": "", "language": "en", "enabled": "on"}
    response = admin_client.post(f"/admin/alerting/notificationchannel/{channel.pk}/change/", form)
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "hook renamed" and channel.url == SECRET_URL
    form["url"] = "json://127.0.0.1:9/other"
    admin_client.post(f"/admin/alerting/notificationchannel/{channel.pk}/change/", form)
    channel.refresh_from_db()
    assert channel.url == "json://127.0.0.1:9/other"


def test_a_new_channel_still_needs_a_url(admin_client):
    response = admin_client.post(
        "/admin/alerting/notificationchannel/add/",
        {"name": "empty", "kind": "apprise", "url": "", "language": "en", "enabled": "on"},
    )
    assert response.status_code == 200 and "An Apprise channel needs a URL." in response.content.decode()
    assert not NotificationChannel.objects.filter(name="empty").exists()
