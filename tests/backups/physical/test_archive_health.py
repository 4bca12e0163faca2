"""WAL archiving health: pg_stat_archiver and pgbackrest check, for the wal_archive check and its metrics."""

from __future__ import annotations

import pytest

from backups.physical.health import WalArchiveCheck
from backups.physical.tasks import check as pgbackrest_check_task
from monitoring.models import Status
from tests.backups.physical.conftest import write_rows
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _samples(result) -> dict[str, float]:
    return {sample.name: sample.value for sample in result.samples}


def test_a_working_archive_is_ok_and_measured_in_seconds(physical):
    assert pgbackrest_check_task() is True
    write_rows(physical, range(1, 5))
    physical.switch_and_wait()
    result = WalArchiveCheck().run()
    assert result.status == Status.OK, result.message
    samples = _samples(result)
    assert 0 <= samples["backup_wal_archive_age_seconds"] < 600
    assert samples["backup_wal_archive_failing"] == 0
    assert samples["backup_wal_archive_lag_seconds"] == 0
    assert result.values["pgbackrest_check"]["ok"] is True


def test_a_stopped_archive_is_critical_with_the_failed_attempts_and_check_says_why(physical, monkeypatch):
    with physical.connect() as conn:
        conn.execute("ALTER SYSTEM SET archive_command = 'false'")
        conn.execute("SELECT pg_reload_conf()")
    write_rows(physical, range(1, 5))
    with physical.connect() as conn:
        conn.execute("SELECT pg_switch_wal()")
        wait_for(lambda: conn.execute("SELECT failed_count FROM pg_stat_archiver").fetchone()[0] > 0,
                 timeout=60, what="a failed archive attempt")

    result = WalArchiveCheck().run()
    assert result.status == Status.CRITICAL
    assert "WAL archiving is failing" in result.message
    samples = _samples(result)
    assert samples["backup_wal_archive_failing"] == 1 and samples["backup_wal_archive_failed_count"] > 0

    monkeypatch.setenv("PGBACKREST_ARCHIVE_TIMEOUT", "3")  # pgbackrest check waits this long for the archive
    assert pgbackrest_check_task() is False
    checked = WalArchiveCheck().run().values["pgbackrest_check"]
    assert checked["ok"] is False and "WAL archiving is not working" in checked["message"]


def test_the_check_is_absent_while_physical_backups_are_off(settings):
    settings.BACKUP_PGBACKREST_STANZA = ""
    assert WalArchiveCheck.instances() == []
