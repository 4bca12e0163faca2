"""Physical backups as backup runs, against a real archiving cluster and pgBackRest."""

from __future__ import annotations

import pytest

from backups.models import BackupRun
from backups.physical.backup import physical_backup_create
from backups.physical.info import stanza_info
from backups.services.backup import backup_run_execute
from tests.backups.physical.conftest import write_rows

pytestmark = pytest.mark.django_db(transaction=True)


def _backup(backup_type: str) -> BackupRun:
    run = physical_backup_create(backup_type=backup_type, trigger=BackupRun.Trigger.CLI, actor="test")
    result = backup_run_execute(run_id=run.pk)
    assert result is not None
    return result


def test_full_diff_and_incr_backups_are_runs_whose_artifacts_mirror_pgbackrest_info(physical):
    write_rows(physical, range(1, 200))
    full = _backup("full")
    write_rows(physical, range(200, 300))
    diff = _backup("diff")
    incr = _backup("incr")

    for run, kind in ((full, "full"), (diff, "diff"), (incr, "incr")):
        assert run.status == BackupRun.Status.SUCCEEDED, run.error
        assert run.kind == BackupRun.Kind.PHYSICAL and run.physical_type == kind
    sets = {b.label: b for b in stanza_info().backups}
    assert len(sets) == 3
    for run in (full, diff, incr):
        (artifact,) = run.artifacts.all()
        backup = sets[artifact.path]
        assert backup.annotations["opsportal-run"] == str(run.uuid)
        assert artifact.format == f"pgbackrest-{backup.type}"
        assert artifact.raw_bytes == backup.size and artifact.stored_bytes == backup.repo_delta == run.total_bytes
        assert artifact.encrypted  # the repository uses pgBackRest's own cipher
    assert sets[diff.artifacts.get().path].prior == full.artifacts.get().path
    assert sets[incr.artifacts.get().path].prior == diff.artifacts.get().path


def test_a_running_backup_shows_progress_from_pgbackrest(physical):
    with physical.connect() as conn:  # ~60 MB, so pgBackRest reports progress a few times
        conn.execute("CREATE TABLE bulk AS SELECT g, md5(g::text) AS pad FROM generate_series(1, 800000) g")
    seen: list[int] = []
    run = physical_backup_create(backup_type="full", trigger=BackupRun.Trigger.CLI, actor="test")
    result = backup_run_execute(run_id=run.pk, on_progress=lambda state: seen.append(state.bytes_done))
    assert result.status == BackupRun.Status.SUCCEEDED, result.error
    assert any(value > 0 for value in seen), seen
    assert result.bytes_done == result.artifacts.get().raw_bytes


def test_a_missing_stanza_fails_the_run_saying_how_to_create_it(settings, archiving_cluster):
    from tests.backups.physical.conftest import configure_portal

    configure_portal(settings, archiving_cluster)  # no stanza-create
    run = _backup("full")
    assert run.status == BackupRun.Status.FAILED
    assert "stanza" in run.error and "physicalbackup --setup" in run.error


def test_a_wrong_passphrase_fails_the_run_naming_the_passphrase_file(physical, settings, tmp_path):
    wrong = tmp_path / "wrong-pass"
    wrong.write_text("not-the-passphrase")
    settings.BACKUP_PGBACKREST_CIPHER_PASS_FILE = str(wrong)
    run = _backup("full")
    assert run.status == BackupRun.Status.FAILED
    assert "BACKUP_PGBACKREST_CIPHER_PASS_FILE" in run.error
    assert "not-the-passphrase" not in run.error + run.log


def test_verify_of_a_physical_run_is_pgbackrest_verify_and_a_flipped_byte_fails_it(physical):
    from backups.services.verify import backup_run_verify

    run = _backup("full")
    assert backup_run_verify(run_id=run.pk).ok
    run.refresh_from_db()
    assert run.verification == BackupRun.Verification.VERIFIED
    label = run.artifacts.get().path
    victim = max((p for p in (physical.repo / "backup").rglob("*") if p.is_file() and label in str(p)),
                 key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    result = backup_run_verify(run_id=run.pk)
    run.refresh_from_db()
    assert not result.ok and run.verification == BackupRun.Verification.FAILED
