"""The secrets-at-rest migrations convert existing rows: plain channel URLs and age-encrypted probe passwords."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from alerting.models import NotificationChannel
from performance.credentials import decrypt_password
from performance.models import PerfTarget

pytestmark = pytest.mark.django_db(transaction=True)

age_format = importlib.import_module("performance.migrations.0004_login_password_fernet")


def _migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _leaves(*apps: str) -> list[tuple[str, str]]:
    graph = MigrationExecutor(connection).loader.graph
    return [node for app in apps for node in graph.leaf_nodes(app)]


def test_migrating_forward_encrypts_plain_channel_urls_and_backward_restores_them():
    latest = _leaves("alerting")
    _migrate([("alerting", "0001_initial")])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alerting_notificationchannel (name, kind, url, language, enabled, consecutive_failures,"
            " last_error, created_at) VALUES ('mail', 'apprise', %s, 'en', true, 0, '', now()),"
            " ('admins', 'admins', '', 'en', true, 0, '', now())",
            ["mailto://alerts:s3cr3t-pw@smtp.example.com?to=ops@example.com"],
        )
    _migrate(latest)
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM alerting_notificationchannel WHERE name = 'mail'")
        stored = cursor.fetchone()[0]
    assert "s3cr3t-pw" not in stored and stored.startswith("gAAAAA")
    assert NotificationChannel.objects.get(name="mail").url == "mailto://alerts:s3cr3t-pw@smtp.example.com?to=ops@example.com"
    assert NotificationChannel.objects.get(name="admins").url == ""
    _migrate([("alerting", "0001_initial")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM alerting_notificationchannel WHERE name = 'mail'")
        assert cursor.fetchone()[0] == "mailto://alerts:s3cr3t-pw@smtp.example.com?to=ops@example.com"
    _migrate(latest)


def test_migrating_forward_reads_the_old_age_passwords_once_and_stores_fernet_tokens():
    latest = _leaves("performance")
    _migrate([("performance", "0003_target_failing")])
    old_format = age_format.age_encrypt("probe-Secret-9f2c")
    assert old_format.startswith(b"age-encryption.org/")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO performance_perftarget (name, kind, url, url_name, method, expected_status, budget_ms,"
            " samples, enabled, login_username, login_password_encrypted, source, last_error)"
            " VALUES ('members', 'page', '/members/', '', 'GET', 200, 3000, 1, true, 'perf-probe', %s, '', ''),"
            " ('unreadable', 'page', '/x/', '', 'GET', 200, 3000, 1, true, 'perf-probe', %s, '', '')",
            [old_format, b"age-encryption.org/v1\n-> X25519 garbage"],
        )
    _migrate(latest)
    target = PerfTarget.objects.get(name="members")
    stored = bytes(target.login_password_encrypted)
    assert stored.startswith(b"gAAAAA") and b"probe-Secret-9f2c" not in stored
    assert decrypt_password(target.login_password_encrypted) == "probe-Secret-9f2c"
    # A row no key opens is left as it was; the probe reports it as before ("cannot be decrypted").
    assert bytes(PerfTarget.objects.get(name="unreadable").login_password_encrypted).startswith(b"age-encryption")
    _migrate([("performance", "0003_target_failing")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT login_password_encrypted FROM performance_perftarget WHERE name = 'members'")
        back = bytes(cursor.fetchone()[0])
    assert age_format.age_decrypt(back) == "probe-Secret-9f2c"
    _migrate(latest)
