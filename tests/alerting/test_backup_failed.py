"""A real backup failure reaches the "Backup failed" alert with the failing source named, and a receiver of
`backup_failed` that raises breaks neither the backup nor the alert.

The failure is real: a second database alias points at a PostgreSQL cluster of the test's own that is stopped, so
the backup fails in preflight, naming `database:ALIAS` and the port it could not reach.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.utils import timezone

from alerting.models import Alert, AlertEvent
from backups.models import BackupRun
from backups.signals import backup_failed
from tests.alerting.conftest import notify_unprocessed, webhook_payloads

pytestmark = pytest.mark.django_db
ALIAS = "reporting"


@pytest.fixture
def unreachable_alias(settings, throwaway_postgres) -> Iterator[int]:
    """BACKUP_DATABASES is one alias, on a cluster that was started once and is now stopped; yields its port."""
    cluster = throwaway_postgres
    cluster.stop()
    connections.settings[ALIAS] = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(cluster.port),
                                   "NAME": "postgres", "USER": "postgres", "PASSWORD": ""}
    settings.BACKUP_DATABASES = [ALIAS]
    try:
        yield cluster.port
    finally:
        connections[ALIAS].close()
        del connections.settings[ALIAS]
        if hasattr(connections._connections, ALIAS):
            delattr(connections._connections, ALIAS)


def test_a_failed_backup_fires_the_alert_naming_the_failing_source(
    backup_dir, unreachable_alias, webhook_channel, httpserver, run_backup
):
    run = run_backup()

    assert run.status == BackupRun.Status.FAILED
    event = AlertEvent.objects.get(event="backup_failed")
    assert event.labels == {"source": f"database:{ALIAS}"}
    assert event.message.startswith(f"Backup run {run.pk}: database:{ALIAS}: ")
    assert str(unreachable_alias) in event.message  # the real cause: the port that did not answer
    notify_unprocessed(timezone.now())
    (payload,) = webhook_payloads(httpserver)
    assert payload["title"] == f"[FIRING] Backup failed (source=database:{ALIAS})"
    assert str(unreachable_alias) in payload["message"]


def test_a_receiver_that_raises_breaks_neither_the_backup_nor_the_alert(
    backup_dir, unreachable_alias, run_backup, caplog
):
    def broken_receiver(sender, failure, **kwargs) -> None:
        raise RuntimeError("a receiver's own bug")

    backup_failed.connect(broken_receiver, weak=False, dispatch_uid="tests.broken_receiver")
    try:
        with caplog.at_level(logging.ERROR):
            run = run_backup()
    finally:
        backup_failed.disconnect(dispatch_uid="tests.broken_receiver")

    assert run.status == BackupRun.Status.FAILED and run.error.startswith(f"database:{ALIAS}: ")
    assert AlertEvent.objects.filter(event="backup_failed", labels={"source": f"database:{ALIAS}"}).exists()
    assert Alert.objects.get(rule__key="backup-failed").state == "firing"
    assert any("a receiver's own bug" in record.getMessage() or "a receiver's own bug" in str(record.exc_info)
               for record in caplog.records)
