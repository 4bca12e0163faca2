"""The embedded default keeps SQLite in WAL mode: a portal stopped by a crash leaves `opsportal.sqlite3-wal` beside
the file, and a backup copied over the file by hand must not have that stale log replayed on top of it."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.opsportal.embedded import clean_env, manage

KEY = {"SECRET_KEY": "embedded-test-key"}


def _usernames(database: Path) -> list[str]:
    # closed, not only committed: an open connection in this process would keep the removed -shm mapped
    with contextlib.closing(sqlite3.connect(database)) as db:
        return [row[0] for row in db.execute("SELECT username FROM auth_user ORDER BY username")]


def test_the_manifest_command_restores_a_sqlite_backup_over_a_crashed_portals_wal(tmp_path: Path):
    var = tmp_path / "var"
    manage(var, "migrate", "-v0", **KEY)
    manage(var, "shell", "-c", "from django.contrib.auth.models import User; User.objects.create(username='keep')",
           **KEY)
    database = var / "opsportal.sqlite3"
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    backup = json.loads(manage(var, "backup", "--json", **KEY).stdout)
    stored = var / "backups" / backup["artifacts"][0]["path"]
    manifest = json.loads((stored.parent / "manifest.json").read_text())

    # A portal process writes after the backup and dies before SQLite checkpoints its log into the file.
    crash = (
        "import os, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('PRAGMA wal_autocheckpoint=0')\n"
        "db.execute(\"INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
        "is_staff, is_active, date_joined) VALUES ('', 0, 'after-backup', '', '', '', 0, 1, '2026-01-01')\")\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", crash, str(database)], check=True, timeout=30)
    assert (var / "opsportal.sqlite3-wal").stat().st_size > 0

    # What the manifest tells an operator to run in var/ (this backup is not encrypted: zstd reads the file).
    command = manifest["how_to_restore"][backup["artifacts"][0]["path"]]
    assert command.startswith("rm -f opsportal.sqlite3-wal opsportal.sqlite3-shm && zstd -d < FILE")
    command = command.replace("FILE", str(stored))
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=var, capture_output=True, text=True,
                            env=clean_env(var))
    assert result.returncode == 0, result.stderr
    assert _usernames(database) == ["keep"]
    users = manage(var, "shell", "-c",
                   "from django.contrib.auth.models import User; print(User.objects.count())", **KEY)
    assert users.stdout.strip().splitlines()[-1] == "1"


def test_the_restore_command_replaces_a_live_wal_database_and_keeps_wal_mode(tmp_path: Path):
    var = tmp_path / "var"
    manage(var, "migrate", "-v0", **KEY)
    manage(var, "shell", "-c", "from django.contrib.auth.models import User; User.objects.create(username='keep')",
           **KEY)
    backup = json.loads(manage(var, "backup", "--json", **KEY).stdout)
    database = var / "opsportal.sqlite3"
    # Another process (a running worker, say) holds the database open with changes still in its log.
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("PRAGMA wal_autocheckpoint=0")
        holder.execute("UPDATE auth_user SET username = 'renamed-after-backup'")
        result = manage(var, "restore", str(backup["id"]), "--yes", **KEY)
        assert "succeeded" in result.stdout, result.stdout + result.stderr
        assert holder.execute("SELECT username FROM auth_user").fetchall() == [("keep",)]
    finally:
        holder.close()
    assert _usernames(database) == ["keep"]
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
