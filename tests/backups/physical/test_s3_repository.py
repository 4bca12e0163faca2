"""A pgBackRest repository in S3, end to end: the portal's BACKUP_PGBACKREST_S3_* settings against a real S3 server.

moto's S3 server over HTTPS on a loopback port (pgBackRest speaks S3 only over TLS) with a certificate made here, for
`localhost`; pgBackRest verifies it against BACKUP_PGBACKREST_S3_CA_FILE. Path-style URIs and a custom port, as with
MinIO or Ceph. The cluster's archive_command reads the repository from its pgbackrest.conf (as an operator's would);
every command the portal runs gets the repository from the portal's settings only: its own config file has none.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backups.models import BackupRun, RestoreRun
from backups.physical.backup import physical_backup_create
from backups.physical.cluster import free_port
from backups.physical.info import stanza_info
from backups.physical.restore import physical_restore_create
from backups.physical.setup import stanza_setup
from backups.services.backup import backup_run_execute
from backups.services.restore import restore_run_execute
from tests.backups.physical.conftest import (
    ALIAS,
    ArchivingCluster,
    configure_portal,
    moment_between_commits,
    order_ids,
    write_rows,
)
from tests.backups.s3 import ACCESS_KEY, REGION, SECRET_KEY, Bucket, s3_server_process

pytestmark = pytest.mark.django_db(transaction=True)

REPO_PATH = "/pgbackrest"  # the prefix inside the bucket


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost (and 127.0.0.1) that is its own CA: the file pgBackRest is told to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "s3-cert.pem", folder / "s3-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(cert_file, 0o644)
    return cert_file, key_file


@pytest.fixture
def s3_repository(settings, tmp_path) -> Iterator[tuple[ArchivingCluster, Bucket]]:
    """An archiving cluster whose repository is a fresh bucket; the portal configured for it, its stanza created."""
    tls_folder = Path(tempfile.mkdtemp(prefix="pitr-s3-tls-"))
    os.chmod(tls_folder, 0o755)  # noqa: S103 (pgbackrest runs as postgres and reads the CA file)
    cert, key = _self_signed_certificate(tls_folder)
    with s3_server_process(tmp_path / "moto.log", tls=(cert, key), host="localhost") as endpoint:
        bucket = Bucket(endpoint, ca_file=cert)
        port = endpoint.rsplit(":", 1)[1]
        cluster = ArchivingCluster(repo_conf=(
            f"repo1-type=s3\nrepo1-path={REPO_PATH}\nrepo1-s3-bucket={bucket.name}\nrepo1-s3-endpoint=localhost\n"
            f"repo1-storage-port={port}\nrepo1-s3-region={REGION}\nrepo1-s3-uri-style=path\n"
            f"repo1-s3-key={ACCESS_KEY}\nrepo1-s3-key-secret={SECRET_KEY}\nrepo1-storage-ca-file={cert}\n"
        ))
        try:
            cluster.start()
            configure_portal(settings, cluster)
            # No repository in the portal's config file, all from the settings; only a stale port, which the
            # endpoint's port in BACKUP_PGBACKREST_S3_ENDPOINT must override.
            portal_conf = cluster.folder / "portal-pgbackrest.conf"
            portal_conf.write_text(f"[global]\nlog-path={cluster.folder / 'log'}\nlock-path={cluster.folder / 'lock'}\n"
                                   "log-level-file=detail\ncompress-type=zst\nrepo1-storage-port=443\n")
            shutil.chown(portal_conf, "postgres", "postgres")
            for name, value in (("s3-key", ACCESS_KEY), ("s3-key-secret", SECRET_KEY)):
                (tmp_path / name).write_text(value + "\n")
                os.chmod(tmp_path / name, 0o600)
            settings.BACKUP_PGBACKREST_CONFIG = str(portal_conf)
            settings.BACKUP_PGBACKREST_REPO_TYPE = "s3"
            settings.BACKUP_PGBACKREST_REPO_PATH = REPO_PATH
            settings.BACKUP_PGBACKREST_S3_BUCKET = bucket.name
            settings.BACKUP_PGBACKREST_S3_ENDPOINT = endpoint  # https://localhost:PORT
            settings.BACKUP_PGBACKREST_S3_REGION = REGION
            settings.BACKUP_PGBACKREST_S3_URI_STYLE = "path"
            settings.BACKUP_PGBACKREST_S3_VERIFY_TLS = True
            settings.BACKUP_PGBACKREST_S3_CA_FILE = str(cert)
            settings.BACKUP_PGBACKREST_S3_KEY_FILE = str(tmp_path / "s3-key")
            settings.BACKUP_PGBACKREST_S3_KEY_SECRET_FILE = str(tmp_path / "s3-key-secret")
            stanza_setup()
            yield cluster, bucket
        finally:
            from django.db import connections

            cluster.cleanup()
            shutil.rmtree(tls_folder, ignore_errors=True)
            connections[ALIAS].close()
            connections.settings.pop(ALIAS, None)
            if hasattr(connections._connections, ALIAS):
                delattr(connections._connections, ALIAS)


def test_an_s3_repository_backs_up_and_restores_to_a_time_with_every_object_in_the_bucket_encrypted(s3_repository):
    cluster, bucket = s3_repository
    write_rows(cluster, range(1, 11))
    run = backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli", actor="test").pk)
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    (artifact,) = run.artifacts.all()
    assert stanza_info().find(artifact.path) is not None and artifact.encrypted

    write_rows(cluster, range(11, 21))  # after the backup, before T: only in the WAL archive (in the bucket)
    target = moment_between_commits(cluster)
    write_rows(cluster, range(21, 31))
    cluster.switch_and_wait()

    restore = physical_restore_create(target_type="time", target=target, pg_path=str(cluster.folder / "restored"),
                                      port=free_port(), actor="test")
    done = restore_run_execute(restore_id=restore.pk)
    assert done.status == RestoreRun.Status.SUCCEEDED, done.error
    assert order_ids(done.port) == list(range(1, 21))
    assert order_ids(cluster.port) == list(range(1, 31))

    objects = bucket.objects()
    prefix = f"{REPO_PATH.strip('/')}/"
    stanza = cluster.stanza
    assert f"{prefix}backup/{stanza}/backup.info" in objects
    assert f"{prefix}archive/{stanza}/archive.info" in objects
    assert f"{prefix}backup/{stanza}/{artifact.path}/backup.manifest" in objects
    wal = [k for k in objects if k.startswith(f"{prefix}archive/{stanza}/") and k.endswith(".zst")]
    assert wal, sorted(objects)
    assert not (cluster.folder / "repo").exists() or not any((cluster.folder / "repo").iterdir())  # nothing local
    for info in (f"{prefix}backup/{stanza}/backup.info", f"{prefix}backup/{stanza}/{artifact.path}/backup.manifest",
                 wal[0]):
        assert bucket.get(info).startswith(b"Salted__"), info  # pgBackRest's aes-256-cbc, not plain text
    everything = b"".join(bucket.get(key) for key in objects)
    assert b"[backrest]" not in everything and b"order 15" not in everything
