"""System checks warn when files holding secrets would be stored unencrypted, or the age key file is missing."""

from __future__ import annotations

from django.core import checks


def _ids() -> set[str]:
    return {message.id for message in checks.run_checks(include_deployment_checks=False)}


def test_unencrypted_secret_files_warn_until_a_recipient_is_set(settings, age_key):
    _identity, recipient = age_key
    settings.BACKUP_FILES = ["/srv/opsportal/.env"]
    settings.BACKUP_AGE_RECIPIENTS = []
    assert "backups.W001" in _ids()
    settings.BACKUP_AGE_RECIPIENTS = [recipient]
    assert "backups.W001" not in _ids()


def test_a_missing_identity_file_warns(settings, tmp_path):
    settings.BACKUP_AGE_IDENTITY_FILE = str(tmp_path / "nowhere.key")
    assert "backups.W002" in _ids()
