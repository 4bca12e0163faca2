"""The exact command-line interface: backup [--async] [--json] [--reindex], listbackups, restore, verifybackup."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backups.models import BackupRun
from tests.conftest import test_database_env, wait_for
from tests.opsportal.embedded import ROOT, clean_env, manage

pytestmark = pytest.mark.django_db(transaction=True)


def test_backup_json_prints_the_run_with_its_artifacts(backup_dir, capsys):
    call_command("backup", "--json")
    printed = json.loads(capsys.readouterr().out)
    run = BackupRun.objects.get()
    assert printed["id"] == run.pk and printed["status"] == "succeeded"
    (artifact,) = printed["artifacts"]
    assert artifact["kind"] == "database" and artifact["name"] == "default"
    assert (backup_dir / artifact["path"]).stat().st_size == artifact["size"]
    assert len(artifact["sha256"]) == 64


def test_backup_async_enqueues_on_the_backups_queue_and_a_worker_runs_it(backup_dir, celery_worker_process, capsys):
    celery_worker_process(queues="backups", extra_env={"BACKUP_DIR": str(backup_dir), "BACKUP_FILES": ""})
    call_command("backup", "--async")
    run_id = int(capsys.readouterr().out.strip())
    run = wait_for(
        lambda: BackupRun.objects.filter(pk=run_id, status__in=["succeeded", "failed"]).first(),
        timeout=60,
        what="the worker to finish the backup",
    )
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    assert run.trigger == BackupRun.Trigger.CLI and run.worker_host


def test_failed_backup_exits_non_zero_with_the_source_named(backup_dir, settings, tmp_path):
    settings.BACKUP_FILES = [str(tmp_path / "gone.env")]
    with pytest.raises(CommandError, match="gone.env"):
        call_command("backup")
    assert BackupRun.objects.get().status == BackupRun.Status.FAILED


def test_an_older_pg_dump_is_refused_naming_both_versions(backup_dir, settings, tmp_path):
    # A pg_dump that reports an older major version, as an old distribution package would.
    bin_dir = tmp_path / "pg13"
    bin_dir.mkdir()
    tool = bin_dir / "pg_dump"
    tool.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 13.16'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    settings.BACKUP_PG_BIN_DIR = str(bin_dir)
    with pytest.raises(CommandError) as failure:
        call_command("backup")
    assert "13.16" in str(failure.value) and "15." in str(failure.value)
    assert "database:default" in str(failure.value)
    assert not list(backup_dir.rglob("*.zst"))


def test_a_pg_dump_replaced_in_place_is_asked_its_version_again(tmp_path):
    # The version is asked once per binary (a backup no longer runs `pg_dump --version` twice), but a long-lived
    # worker must see an upgrade of the client tools at the same path.
    from backups import postgres

    tool = tmp_path / "pg_dump"
    tool.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 13.16'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    assert postgres.tool_version(str(tool)) == (13, "pg_dump (PostgreSQL) 13.16")
    replacement = tmp_path / "pg_dump.new"
    replacement.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 17.2'\n")
    replacement.chmod(replacement.stat().st_mode | stat.S_IXUSR)
    replacement.replace(tool)  # as a package upgrade does: a new file renamed over the old one
    assert postgres.tool_version(str(tool)) == (17, "pg_dump (PostgreSQL) 17.2")


def test_listbackups_json_and_reindex_rebuild_the_catalog_from_storage(backup_dir, run_backup, capsys):
    first = run_backup()
    BackupRun.objects.all().delete()
    call_command("backup", "--reindex")
    rebuilt = BackupRun.objects.get()
    assert (rebuilt.pk, rebuilt.uuid, rebuilt.status) == (first.pk, first.uuid, BackupRun.Status.SUCCEEDED)
    assert rebuilt.artifacts.get().sha256 == first.artifacts.get().sha256
    capsys.readouterr()
    call_command("listbackups", "--json")
    listed = json.loads(capsys.readouterr().out)
    assert [item["id"] for item in listed] == [first.pk]


def test_embedded_sqlite_backup_and_restore_round_trip(tmp_path):
    var = tmp_path / "var"
    key = {"SECRET_KEY": "embedded-test-key"}
    manage(var, "migrate", "-v0", **key)
    manage(
        var, "shell", "-c", "from django.contrib.auth.models import User; User.objects.create(username='keep')", **key
    )
    # Through the cron wrapper, as an operator's crontab would run it.
    wrapper = subprocess.run(
        ["bash", "scripts/server/backup.sh", "--json"],
        cwd=ROOT,
        env=clean_env(var, PYTHON=sys.executable, **key),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wrapper.returncode == 0, wrapper.stderr
    printed = json.loads(wrapper.stdout)
    assert printed["status"] == "succeeded" and printed["artifacts"][0]["name"] == "default"
    manage(var, "shell", "-c", "from django.contrib.auth.models import User; User.objects.all().delete()", **key)

    result = manage(var, "restore", str(printed["id"]), "--yes", **key)
    assert "succeeded" in result.stdout
    users = manage(
        var,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; print(list(User.objects.values_list('username', flat=True)))",
        **key,
    )
    assert users.stdout.strip().splitlines()[-1] == "['keep']"
    listed = json.loads(manage(var, "listbackups", "--json", **key).stdout)
    assert {item["trigger"] for item in listed} == {"cli", "safety"}
    verified = subprocess.run(
        ["zstd", "-t", str(var / "backups" / printed["artifacts"][0]["path"])], capture_output=True
    )
    assert verified.returncode == 0


BACKUP_THEN_MODULES = """
import json, sys
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", "backup", "-v0"])
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.django_db(transaction=True)
def test_a_command_line_backup_runs_its_own_checks_but_loads_no_admin_page_or_urlconf(backup_dir):
    """`manage.py backup` starts quickly: the backup settings' checks run (backups.W001 shows), but neither the admin
    pages' code nor the URLconf is imported on the way to pg_dump (issue 20: start-up)."""
    env = test_database_env(BACKUP_DIR=str(backup_dir), VAR_DIR=str(backup_dir.parent / "var"),
                            BACKUP_FILES=str(ROOT / "README.md"), BACKUP_DOCKER_VOLUMES="", BACKUP_AGE_RECIPIENTS="")
    done = subprocess.run([sys.executable, "-c", BACKUP_THEN_MODULES], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "backups.W001" in done.stderr  # unencrypted secrets: the backup's own system check still runs
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    assert "backups.sources.database" in modules  # it did back up
    ours = ("opsportal.", "backups.", "monitoring.", "performance.", "alerting.")
    admin_modules = [name for name in modules if name.startswith(ours) and name.split(".")[-1] == "admin"
                     or ".admin." in name and name.startswith(ours)]
    assert admin_modules == []
    assert "opsportal.urls" not in modules
    assert BackupRun.objects.get().status == BackupRun.Status.SUCCEEDED
