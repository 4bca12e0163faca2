"""With encryption configured, no secret is readable anywhere in backup storage without the age key.
(argv, logs and error messages: tests/backups/test_secrets.py; unencrypted file modes: test_manual_restore.py.)"""

from __future__ import annotations

import subprocess

import psycopg
import pytest

from backups.models import BackupRun
from tests.backups.conftest import current_db_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.security]

SECRET = b"sk_live_0123456789abcdefSECRET"


@pytest.fixture
def secret_row(django_db_blocker):
    with django_db_blocker.unblock(), psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE rel_tokens (token text)")
        conn.execute("INSERT INTO rel_tokens VALUES (%s)", [SECRET.decode()])
    yield
    with django_db_blocker.unblock(), psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS rel_tokens")


def test_encrypted_storage_holds_no_readable_secret_and_is_private(
    encrypted, backup_dir, settings, tmp_path, secret_row, run_backup
):
    env = tmp_path / "app.env"
    env.write_bytes(b"STRIPE_KEY=" + SECRET + b"\n")
    settings.BACKUP_FILES = [str(env)]
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error

    stored = [path for path in backup_dir.rglob("*") if path.is_file()]
    assert {path.name for path in stored} >= {"manifest.json"}
    for path in stored:
        data = path.read_bytes()
        assert SECRET not in data, path
        if path.name != "manifest.json":
            assert path.suffix == ".age" and data.startswith(b"age-encryption.org/v1"), path
            # Not even after zstd: the compression is inside the encryption.
            unzstd = subprocess.run(["zstd", "-d", "-c"], input=data, capture_output=True)
            assert unzstd.returncode != 0 and SECRET not in unzstd.stdout
    for path in [backup_dir, *backup_dir.rglob("*")]:
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path
    assert SECRET.decode() not in run.log + run.error
    # And the key does open them: the secret is there for whoever holds it.
    identity, _ = encrypted
    artifact = run.artifacts.get(kind="file")
    decrypted = subprocess.run(["age", "-d", "-i", str(identity), str(backup_dir / artifact.path)],
                               capture_output=True, check=True).stdout
    plain = subprocess.run(["zstd", "-d", "-c"], input=decrypted, capture_output=True, check=True).stdout
    assert SECRET in plain
