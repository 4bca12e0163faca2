"""verifybackup recomputes every checksum; --drill restores into a scratch database and compares row counts."""

from __future__ import annotations

import json

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backups.models import BackupRun, RestoreRun
from backups.services.restore import restore_run_create_and_execute
from tests.backups.conftest import PG

pytestmark = pytest.mark.django_db(transaction=True)


def _scratch_databases() -> set[str]:
    with psycopg.connect(f"{PG}/postgres") as conn:
        return {
            row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'opsportal_drill_%'")
        }


def test_verify_latest_records_checksums_verified(backup_dir, run_backup, capsys):
    run = run_backup()
    call_command("verifybackup", "--latest", "--json")
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True and payload["id"] == run.pk
    run.refresh_from_db()
    assert run.verification == BackupRun.Verification.VERIFIED and run.verified_at


def test_drill_restores_into_a_scratch_database_compares_rows_and_records_the_rto(
    backup_dir, encrypted, rich_schema, run_backup, capsys
):
    run = run_backup()
    before = _scratch_databases()
    call_command("verifybackup", str(run.pk), "--drill", "--json")
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True, payload["problems"]
    run.refresh_from_db()
    assert run.verification == BackupRun.Verification.DRILL_PASSED
    assert run.drill_rto_seconds is not None and run.drill_rto_seconds > 0
    assert "row counts compared" in run.verification_detail
    assert _scratch_databases() == before  # the scratch database was dropped


def test_one_corrupted_byte_fails_verification_and_restore_refuses(backup_dir, run_backup, new_database_url):
    run = run_backup()
    artifact = run.artifacts.get(kind="database")
    stored = backup_dir / artifact.path
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))

    with pytest.raises(CommandError, match="failed verification"):
        call_command("verifybackup", str(run.pk))
    run.refresh_from_db()
    assert run.verification == BackupRun.Verification.FAILED
    assert "corrupt" in run.verification_detail

    target = new_database_url()
    restore = restore_run_create_and_execute(run_id=run.pk, into=target)
    assert restore.status == RestoreRun.Status.REFUSED
    assert "corrupt" in restore.error and artifact.path in restore.error
    with psycopg.connect(f"{PG}/postgres") as conn:  # refused before touching anything: not even created
        assert not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target.rsplit("/", 1)[1]]).fetchone()
    assert BackupRun.objects.count() == 1  # and no safety backup was taken
