from __future__ import annotations

import contextlib
import os
import pty
import secrets
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TextIO

import psycopg
import pytest
from django.db import connection

from backups.models import BackupRun
from backups.services.backup import backup_run_create, backup_run_execute

PG = "postgres://postgres@127.0.0.1:5432"


@pytest.fixture
def backup_dir(settings, tmp_path) -> Path:
    """A private backup storage for this test, with nothing but the default database to back up."""
    folder = tmp_path / "backups"
    settings.BACKUP_DIR = folder
    settings.VAR_DIR = tmp_path / "var"  # this test's own failure journal (VAR_DIR/backup-journal)
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": "backups.storage.BackupFileSystemStorage", "OPTIONS": {"location": str(folder)}},
    }
    settings.BACKUP_DATABASES = ["default"]
    settings.BACKUP_DATABASE_URLS, settings.BACKUP_DATABASE_URL_PROBLEMS = {}, []
    settings.BACKUP_FILES = []
    settings.BACKUP_DOCKER_VOLUMES = []
    settings.BACKUP_AGE_RECIPIENTS = []
    settings.BACKUP_AGE_IDENTITY_FILE = ""
    settings.BACKUP_PROGRESS_EVERY = timedelta(milliseconds=200)
    return folder


@pytest.fixture
def age_key(tmp_path) -> tuple[Path, str]:
    """A real age key pair made by age-keygen: (identity file, public recipient)."""
    identity = tmp_path / "age-key.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return identity, recipient


@pytest.fixture
def encrypted(settings, backup_dir, age_key) -> tuple[Path, str]:
    identity, recipient = age_key
    settings.BACKUP_AGE_RECIPIENTS = [recipient]
    settings.BACKUP_AGE_IDENTITY_FILE = str(identity)
    return age_key


@pytest.fixture
def new_database_url() -> Iterator[Callable[[], str]]:
    """URLs of databases that do not exist yet; each is dropped after the test."""
    names: list[str] = []

    def make() -> str:
        name = f"bk_scratch_{secrets.token_hex(4)}"
        names.append(name)
        return f"{PG}/{name}"

    yield make
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def current_db_url() -> str:
    return f"{PG}/{connection.settings_dict['NAME']}"


@pytest.fixture
def run_backup() -> Callable[..., BackupRun]:
    def run(**kwargs) -> BackupRun:
        created = backup_run_create(trigger=BackupRun.Trigger.CLI, **kwargs)
        result = backup_run_execute(run_id=created.pk)
        assert result is not None
        return result

    return run


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def table_contents(url: str) -> dict[str, list[str]]:
    """Every user table's rows as text, sorted: equal dicts mean equal contents."""
    from backups import postgres

    with psycopg.connect(url, autocommit=True) as conn:
        tables = postgres.user_tables(conn)
        return {
            f"{schema}.{table}": [
                row[0]
                for row in conn.execute(
                    f'SELECT t::text FROM "{schema}"."{table}" t ORDER BY 1'  # noqa: S608 (test identifiers)
                ).fetchall()
            ]
            for schema, table in tables
        }


def schema_dump(url: str) -> str:
    output = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", url], check=True, capture_output=True, text=True
    ).stdout
    # Comments and pg_dump's per-run \restrict keys differ between any two dumps.
    return "\n".join(line for line in output.splitlines() if not line.startswith(("--", "\\restrict", "\\unrestrict")))


@pytest.fixture
def rich_schema(django_db_blocker) -> Iterator[None]:
    """Load rich_schema.sql into the test database (outside any model); drop it afterwards."""
    url = current_db_url()
    sql = (Path(__file__).parent / "rich_schema.sql").read_text()
    with django_db_blocker.unblock(), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bk_extra CASCADE; DROP TABLE IF EXISTS public.bk_legacy_notes")
        conn.execute(sql)
    yield
    with django_db_blocker.unblock(), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bk_extra CASCADE; DROP TABLE IF EXISTS public.bk_legacy_notes")


# --- admin users: the permission matrix -----------------------------------------------------------------------------
VIEW_PERMISSIONS = ["view_backuprun", "view_restorerun"]


def make_user(username: str, *, staff: bool = True, superuser: bool = False, permissions: tuple[str, ...] = ()):
    from django.contrib.auth.models import Permission, User

    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", "pw")
    user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=staff)
    codenames = [*VIEW_PERMISSIONS, *permissions]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="backups", codename__in=codenames))
    return user


@pytest.fixture
def staff_client(client):
    """Staff who may see the backup history, and nothing more."""
    client.force_login(make_user("viewer"))
    return client


@pytest.fixture
def runner_client(client):
    """Staff with backups.run_backup (run, verify, drill, pin) but not restore or delete."""
    client.force_login(make_user("runner", permissions=("run_backup",)))
    return client


@pytest.fixture
def super_client(client):
    client.force_login(make_user("root", superuser=True))
    return client


def make_run(**fields) -> BackupRun:
    """A finished run in the catalog (no files), e.g. for listing and retention tests."""
    from django.utils import timezone

    created_at = fields.pop("created_at", None)
    defaults = {"status": BackupRun.Status.SUCCEEDED, "trigger": BackupRun.Trigger.SCHEDULED}
    if "started_at" not in fields:
        defaults["started_at"] = created_at or timezone.now()
    if "finished_at" not in fields and fields.get("status", defaults["status"]) != BackupRun.Status.RUNNING:
        defaults["finished_at"] = (created_at or timezone.now()) + timedelta(seconds=75)
    run = BackupRun.objects.create(**{**defaults, **fields})
    if created_at is not None:
        BackupRun.objects.filter(pk=run.pk).update(created_at=created_at)
        run.refresh_from_db()
    return run


# --- S3: a real S3 server (tests/backups/s3.py) -----------------------------------------------------------------------
@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    from tests.backups.s3 import s3_server_process

    with s3_server_process(tmp_path_factory.mktemp("s3") / "server.log") as endpoint:
        yield endpoint


def _use_bucket(settings, bucket):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": bucket.storage_options()},
    }
    return bucket


@pytest.fixture
def s3_bucket(settings, backup_dir, s3_endpoint):
    """STORAGES["backups"] is django-storages' S3Storage on a new bucket of the S3 server."""
    from tests.backups.s3 import Bucket

    return _use_bucket(settings, Bucket(s3_endpoint))


@pytest.fixture
def s3_versioned_bucket(settings, backup_dir, s3_endpoint):
    """As s3_bucket, with versioning on: every object ever written stays visible as a version."""
    from tests.backups.s3 import Bucket

    return _use_bucket(settings, Bucket(s3_endpoint, versioned=True))


# --- a second database alias: an SQLite file, as the embedded default keeps its database ----------------------------
@contextlib.contextmanager
def sqlite_database_alias(alias: str, path: Path, rows: int = 200) -> Iterator[Path]:
    """Create an SQLite database at `path` (a table of `rows` notes) and configure it as database alias `alias`."""
    import sqlite3

    from django.db import connections

    from opsportal.lib.config import SQLITE_OPTIONS

    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")  # as the embedded default keeps it
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO notes (body) VALUES (?)", [(f"note {i}",) for i in range(rows)])
        db.commit()
    connections.settings[alias] = {**connection.settings_dict, "ENGINE": "django.db.backends.sqlite3",
                                   "NAME": str(path), "OPTIONS": dict(SQLITE_OPTIONS), "HOST": "", "PORT": "",
                                   "USER": "", "PASSWORD": ""}
    try:
        yield path
    finally:
        connections[alias].close()
        del connections.settings[alias]
        if hasattr(connections._connections, alias):
            delattr(connections._connections, alias)


@contextlib.contextmanager
def terminal_output() -> Iterator[tuple[TextIO, bytearray]]:
    """A real terminal (a pty: isatty() is true) to hand a command as its stream, and the bytes it drew there; the
    bytes are complete once the block ends."""
    master, slave = pty.openpty()
    received = bytearray()

    def read() -> None:
        with contextlib.suppress(OSError):  # EIO once the slave side is closed
            while chunk := os.read(master, 65536):
                received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    terminal = os.fdopen(slave, "w")
    try:
        yield terminal, received
    finally:
        terminal.close()
        reader.join(timeout=10)
        os.close(master)


def worker_env_of(backup_dir: Path, settings) -> dict[str, str]:
    """What a backups worker started by a test needs to work on that test's storage: its BACKUP_DIR, no files or
    volumes, and its VAR_DIR, so the reaper the test runs looks where the worker decoded an artifact (disk or
    memory)."""
    return {"BACKUP_DIR": str(backup_dir), "BACKUP_FILES": "", "BACKUP_DOCKER_VOLUMES": "",
            "VAR_DIR": str(settings.VAR_DIR)}
