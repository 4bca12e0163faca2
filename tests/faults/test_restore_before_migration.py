"""Restoring in place a backup taken before a migration: the restored database has the older schema, the code the
newer one. The portal applies the migrations the backup predates (the same code that made the newer schema) before
anything reads the restored tables, writes its catalog and the restore's own record, and the next backup works.

A real module is installed through EXTRA_APPS (a package written under tmp_path); its second migration, adding a
column its model uses, lands between the backup and the restore. Everything runs in real `manage.py` subprocesses on
the test database."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import psycopg
import pytest

from tests.backups.conftest import current_db_url
from tests.conftest import ROOT, test_database_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]

MODEL_BEFORE = """
from django.db import models

class Parcel(models.Model):
    reference = models.CharField(max_length=20)
"""
MODEL_AFTER = MODEL_BEFORE + "    weight_grams = models.IntegerField(default=0)\n"
MIGRATION_1 = """
from django.db import migrations, models

class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.CreateModel("Parcel", [
        ("id", models.BigAutoField(primary_key=True, serialize=False)),
        ("reference", models.CharField(max_length=20))])]
"""
MIGRATION_2 = """
from django.db import migrations, models

class Migration(migrations.Migration):
    dependencies = [("parcels", "0001_initial")]
    operations = [migrations.AddField("Parcel", "weight_grams", models.IntegerField(default=0))]
"""


@pytest.fixture
def parcels_module(tmp_path):
    package = tmp_path / "modules" / "parcels"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "__init__.py").write_text("")
    (package / "apps.py").write_text(textwrap.dedent("""
        from django.apps import AppConfig

        class ParcelsConfig(AppConfig):
            name = "parcels"
            default_auto_field = "django.db.models.BigAutoField"
    """))
    (package / "models.py").write_text(MODEL_BEFORE)
    (package / "migrations" / "0001_initial.py").write_text(MIGRATION_1)
    yield package
    with psycopg.connect(current_db_url(), autocommit=True) as conn:  # the module leaves nothing behind
        conn.execute("DROP TABLE IF EXISTS parcels_parcel")
        conn.execute("DELETE FROM django_migrations WHERE app = 'parcels'")


def _manage(package, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = test_database_env(EXTRA_APPS="parcels", PYTHONPATH=str(package.parent), BACKUP_DIR=str(tmp_path / "backups"),
                            VAR_DIR=str(tmp_path / "var"), BACKUP_FILES="", BACKUP_DOCKER_VOLUMES="")
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_in_place_restore_of_a_backup_older_than_a_migration_applies_it_and_keeps_every_record(
    parcels_module, tmp_path
):
    _ok(_manage(parcels_module, tmp_path, "migrate", "--noinput"))
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("INSERT INTO parcels_parcel (reference) VALUES ('P-1'), ('P-2')")
    old = json.loads(_ok(_manage(parcels_module, tmp_path, "backup", "--json")))
    assert old["status"] == "succeeded", old["error"]

    # The new version of the module: a migration that adds a column its model uses, applied by the deploy.
    (parcels_module / "models.py").write_text(MODEL_AFTER)
    (parcels_module / "migrations" / "0002_weight.py").write_text(MIGRATION_2)
    _ok(_manage(parcels_module, tmp_path, "migrate", "--noinput"))

    restored = _manage(parcels_module, tmp_path, "restore", str(old["id"]), "--yes")

    assert restored.returncode == 0, restored.stdout + restored.stderr
    plan = _ok(_manage(parcels_module, tmp_path, "migrate", "--plan"))
    assert "No planned migration operations." in plan  # nothing left for an operator to do
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        rows = conn.execute("SELECT reference, weight_grams FROM parcels_parcel ORDER BY reference").fetchall()
        restore = conn.execute("SELECT status, log FROM backups_restorerun ORDER BY id DESC").fetchone()
        runs = dict(conn.execute("SELECT id, status FROM backups_backuprun").fetchall())
    assert rows == [("P-1", 0), ("P-2", 0)]  # the backup's data, in the schema the code expects
    assert restore[0] == "succeeded" and "applying them: parcels.0002_weight" in restore[1]
    assert runs[old["id"]] == "succeeded"  # not "running", as the dump taken mid-run shows it
    assert sum(status == "succeeded" for status in runs.values()) == 2  # the old backup and the safety backup
    after = json.loads(_ok(_manage(parcels_module, tmp_path, "backup", "--json")))
    assert after["status"] == "succeeded", after["error"]
