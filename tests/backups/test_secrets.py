"""Credentials reach pg_dump through its environment, never its command line, and never land in output or logs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from backups.models import BackupRun
from tests.backups.conftest import current_db_url
from tests.conftest import ROOT, pg_dumps_running, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.security]

PASSWORD = "Sup3r-s3cret-pw"  # trust auth ignores it; a leak would still show it verbatim


def _pg_dump_of(process: subprocess.Popen):
    return next(iter(pg_dumps_running(process.pid)), None)


def test_running_pg_dump_has_no_password_in_its_command_line(tmp_path):
    url = current_db_url()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.bk_lock_probe (id int)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "opsportal.settings",
        "ENV_FILE": "",
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "secrets-test-key",
        "DATABASE_URL": f"postgres://postgres:{PASSWORD}@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "CELERY_BROKER_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "BACKUP_FILES": "",
    }
    locker = psycopg.connect(url)
    try:
        # Hold a lock pg_dump must wait for, so it is still running when we look at it.
        locker.execute("LOCK TABLE public.bk_lock_probe IN ACCESS EXCLUSIVE MODE")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "backup", "--json"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        dump = wait_for(lambda: _pg_dump_of(process), timeout=60, what="pg_dump to start")
        cmdline = Path(f"/proc/{dump.pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{dump.pid}/environ").read_bytes().split(b"\0")
        assert PASSWORD.encode() not in cmdline
        assert cmdline.split(b"\0")[1:3] == [b"-Fc", b"-Z0"]
        assert f"PGPASSWORD={PASSWORD}".encode() in environ
    finally:
        locker.rollback()
        locker.close()
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr.decode()
    assert PASSWORD.encode() not in stdout + stderr
    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.SUCCEEDED
    assert PASSWORD not in run.log + run.error
    for path in (tmp_path / "backups").rglob("manifest.json"):
        assert PASSWORD not in path.read_text()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE public.bk_lock_probe")


def test_error_messages_are_scrubbed_of_passwords_in_urls_and_keywords():
    from backups.services.backup import scrub_secrets

    message = f"could not connect to postgres://postgres:{PASSWORD}@db:5432/x (password={PASSWORD})"
    assert PASSWORD not in scrub_secrets(message)
