"""An operator can restore without the portal: the stored files work with the real age, zstd and pg_restore."""

from __future__ import annotations

import json
import subprocess

import psycopg
import pytest

from backups.models import BackupRun
from tests.backups.conftest import current_db_url, table_contents

pytestmark = pytest.mark.django_db(transaction=True)


def test_age_zstd_pg_restore_pipeline_restores_the_database(
    backup_dir, encrypted, rich_schema, run_backup, new_database_url
):
    identity, _recipient = encrypted
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    manifest = json.loads((backup_dir / run.storage_prefix / "manifest.json").read_text())
    item = next(a for a in manifest["artifacts"] if a["kind"] == "database")
    stored = backup_dir / item["path"]
    assert (
        subprocess.run(["sha256sum", str(stored)], capture_output=True, text=True).stdout.split()[0] == item["sha256"]
    )

    target = new_database_url()
    name = target.rsplit("/", 1)[1]
    with psycopg.connect(target.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    # Exactly what docs/guides/backup-and-restore.md tells an operator to run.
    pipeline = (
        f"age -d -i {identity} {stored} | zstd -d | pg_restore --no-owner --single-transaction --exit-on-error "
        f"-h 127.0.0.1 -U postgres -d {name}"
    )
    result = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    original = table_contents(current_db_url())
    restored = table_contents(target)
    assert restored["bk_extra.documents"] == original["bk_extra.documents"]
    assert restored["public.bk_legacy_notes"] == original["public.bk_legacy_notes"]


@pytest.mark.security
def test_unencrypted_files_are_plain_zstd_and_private(backup_dir, settings, tmp_path, run_backup):
    secret_file = tmp_path / "app.env"
    secret_file.write_text("API_TOKEN=very-secret\n")
    settings.BACKUP_FILES = [str(secret_file)]
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    artifact = run.artifacts.get(kind="file")
    stored = backup_dir / artifact.path
    assert subprocess.run(["zstd", "-d", "-c", str(stored)], capture_output=True, check=True).stdout == (
        b"API_TOKEN=very-secret\n"
    )
    for path in [backup_dir, *backup_dir.rglob("*")]:
        expected = 0o700 if path.is_dir() else 0o600
        assert path.stat().st_mode & 0o777 == expected, path


@pytest.mark.parametrize("with_encryption", [False, True])
def test_the_manifests_hint_restores_the_file_as_written(backup_dir, settings, tmp_path, run_backup, age_key,
                                                         with_encryption):
    identity, recipient = age_key
    if with_encryption:
        settings.BACKUP_AGE_RECIPIENTS = [recipient]
        settings.BACKUP_AGE_IDENTITY_FILE = str(identity)
    env_file = tmp_path / "app.env"
    env_file.write_text("API_TOKEN=very-secret\n")
    settings.BACKUP_FILES = [str(env_file)]
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    manifest = json.loads((backup_dir / run.storage_prefix / "manifest.json").read_text())
    item = next(a for a in manifest["artifacts"] if a["kind"] == "file")
    hint = manifest["how_to_restore"][item["path"]]
    assert hint.startswith("age -d") == with_encryption  # no age step for an artifact that was never encrypted
    out = tmp_path / "restored.env"
    line = hint.replace("KEY", str(identity)).replace("FILE", str(backup_dir / item["path"])).replace("PATH", str(out))
    done = subprocess.run(["bash", "-o", "pipefail", "-c", line], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "API_TOKEN=very-secret\n"
