"""A real S3 server for the backup tests: moto's server, run as a separate process on a free loopback port.

It speaks the S3 REST API over HTTP (multipart uploads, versioning, listing), like a local MinIO would; the code
under test reaches it only through django-storages and boto3, as it would reach AWS or any S3-compatible service.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3

from tests.conftest import free_port, wait_for

ACCESS_KEY = "opsportal-test"
SECRET_KEY = "opsportal-test-secret"
REGION = "us-east-1"
LOCATION = "opsportal"  # S3Storage's `location`: every key of the backups starts with it


@contextmanager
def s3_server_process(log: Path, *, tls: tuple[Path, Path] | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """Start `python -m moto.server` on a free port; yield its endpoint URL; stop it.

    With `tls` (certificate, key files) it serves HTTPS, as pgBackRest needs (through gunicorn); `host` names the
    endpoint (the name the certificate is for), the server listens on 127.0.0.1 either way.
    """
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    with open(log, "wb") as output:
        process = subprocess.Popen(
            _https_command(port, tls) if tls else [sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                                   "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )
    endpoint = f"{'https' if tls else 'http'}://{host}:{port}"
    context = ssl.create_default_context(cafile=str(tls[0])) if tls else None

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the S3 server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(endpoint, timeout=2, context=context).close()  # noqa: S310 (our own loopback server)
        except urllib.error.HTTPError:
            return True  # any HTTP answer: it is serving
        except OSError:
            return False
        return True

    try:
        wait_for(answers, timeout=60, what=f"the S3 server on {endpoint}")
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _https_command(port: int, tls: tuple[Path, Path]) -> list[str]:
    """moto's application under gunicorn with TLS: werkzeug's development server (`moto.server -c -k`) answers a
    PUT over TLS in a way pgBackRest 2.45 reads as "unexpected eof" and retries until it gives up; gunicorn does not.
    One worker: moto keeps its buckets in memory."""
    return [sys.executable, "-m", "gunicorn", "--chdir", str(Path(__file__).resolve().parents[2]),
            "-b", f"127.0.0.1:{port}", "--certfile", str(tls[0]), "--keyfile", str(tls[1]), "-w", "1",
            "-k", "gthread", "--threads", "4", "--no-control-socket", "tests.backups.moto_wsgi:application"]


class Bucket:
    """A fresh bucket on the S3 server, seen independently of the code under test (plain boto3)."""

    def __init__(self, endpoint: str, *, versioned: bool = False, ca_file: Path | None = None) -> None:
        self.endpoint = endpoint
        self.name = f"opsportal-backups-{secrets.token_hex(4)}"
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            verify=str(ca_file) if ca_file else None,
        )
        self.client.create_bucket(Bucket=self.name)
        if versioned:
            self.client.put_bucket_versioning(Bucket=self.name, VersioningConfiguration={"Status": "Enabled"})

    def storage_options(self) -> dict:
        """BACKUP_STORAGE_OPTIONS for S3Storage: everything in the options, nothing from the environment."""
        return {
            "bucket_name": self.name,
            "endpoint_url": self.endpoint,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region_name": REGION,
            "location": LOCATION,
        }

    @staticmethod
    def key(path: str) -> str:
        """The object key of a storage name (an artifact's path)."""
        return f"{LOCATION}/{path}"

    def objects(self) -> dict[str, int]:
        """Every object in the bucket: key → size."""
        found = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            for item in page.get("Contents", ()):
                found[item["Key"]] = item["Size"]
        return found

    def versions(self) -> list[str]:
        """Every object version and delete marker (a versioned bucket keeps what was ever written)."""
        page = self.client.list_object_versions(Bucket=self.name)
        return [f"{v['Key']}@{v['VersionId']}" for v in page.get("Versions", ())] + [
            f"{m['Key']}@{m['VersionId']} (delete marker)" for m in page.get("DeleteMarkers", ())
        ]

    def uploads(self) -> list[str]:
        """Unfinished multipart uploads (they hold parts, cost storage and are invisible to a listing)."""
        return [u["Key"] for u in self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", ())]

    def parts(self) -> int:
        """Parts uploaded so far to the unfinished multipart uploads."""
        total = 0
        for upload in self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", ()):
            found = self.client.list_parts(Bucket=self.name, Key=upload["Key"], UploadId=upload["UploadId"])
            total += len(found.get("Parts", ()))
        return total

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def sha256(self, key: str) -> tuple[str, int]:
        data = self.get(key)
        return hashlib.sha256(data).hexdigest(), len(data)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)
