"""System checks of the pgBackRest configuration: ids, and silence while physical backups are off."""

from __future__ import annotations

from backups.system_checks import physical_backups


def _ids(settings) -> set[str]:
    return {message.id for message in physical_backups(None)}


def test_no_check_fires_while_the_stanza_is_empty(settings):
    settings.BACKUP_PGBACKREST_STANZA = ""
    settings.BACKUP_PGBACKREST_BIN = "/nonexistent/pgbackrest"
    assert _ids(settings) == set()


def test_each_problem_has_its_id(settings, tmp_path):
    settings.BACKUP_PGBACKREST_STANZA = "main"
    settings.BACKUP_PGBACKREST_BIN = "/nonexistent/pgbackrest"
    settings.BACKUP_PGBACKREST_CONFIG = str(tmp_path / "missing.conf")
    settings.BACKUP_PGBACKREST_DATABASE = "nosuchalias"
    settings.BACKUP_PGBACKREST_CIPHER_PASS_FILE = str(tmp_path / "missing-pass")
    settings.BACKUP_PGBACKREST_USER = "no-such-user-here"
    assert _ids(settings) >= {"backups.E101", "backups.E102", "backups.E103", "backups.E106", "backups.E108"}


def test_an_s3_repository_without_keys_and_an_unencrypted_repository_are_reported(settings):
    settings.BACKUP_PGBACKREST_STANZA = "main"
    settings.BACKUP_PGBACKREST_REPO_TYPE = "s3"
    settings.BACKUP_PGBACKREST_S3_BUCKET = "bucket"
    settings.BACKUP_PGBACKREST_CIPHER_PASS_FILE = ""
    found = {message.id: message for message in physical_backups(None)}
    assert "BACKUP_PGBACKREST_S3_KEY_FILE" in found["backups.E105"].msg
    assert "backups.W107" in found


def test_an_s3_endpoint_with_a_port_is_handed_over_as_host_and_port_and_plain_http_is_refused(settings, tmp_path):
    from backups.physical.config import pgbackrest_env

    settings.BACKUP_PGBACKREST_STANZA = "main"
    settings.BACKUP_PGBACKREST_REPO_TYPE = "s3"
    settings.BACKUP_PGBACKREST_S3_BUCKET = "bucket"
    settings.BACKUP_PGBACKREST_S3_ENDPOINT = "https://minio.internal:9000/"
    settings.BACKUP_PGBACKREST_S3_CA_FILE = str(tmp_path / "ca.pem")
    env = pgbackrest_env(with_secrets=False)
    assert env["PGBACKREST_REPO1_S3_ENDPOINT"] == "minio.internal"
    assert env["PGBACKREST_REPO1_STORAGE_PORT"] == "9000"
    assert env["PGBACKREST_REPO1_STORAGE_CA_FILE"] == str(tmp_path / "ca.pem")
    assert "backups.E110" in _ids(settings)  # the CA file does not exist

    settings.BACKUP_PGBACKREST_S3_ENDPOINT = "s3.eu-west-1.amazonaws.com"
    env = pgbackrest_env(with_secrets=False)
    assert env["PGBACKREST_REPO1_S3_ENDPOINT"] == "s3.eu-west-1.amazonaws.com"
    assert "PGBACKREST_REPO1_STORAGE_PORT" not in env  # pgBackRest's default, 443

    settings.BACKUP_PGBACKREST_S3_ENDPOINT = "http://minio.internal:9000"
    found = {message.id: message for message in physical_backups(None)}
    assert "HTTPS" in found["backups.E109"].msg
