"""Databases of BACKUP_DATABASE_URLS (issue 20, "Past one machine" 1): each is the source postgres:NAME, with its own
row counts in the manifest, its own in-place restore (swapped in, never migrated) and its own drill; its password
never reaches the manifest, the logs, the admin or an error."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from backups.models import BackupRun, RestoreRun
from backups.services.restore import restore_run_create_and_execute
from backups.services.scratch import scratch_databases_reap
from backups.services.swap import restore_databases_reap
from backups.services.verify import backup_run_verify
from opsportal.lib.database_urls import parse_database_urls
from tests.backups.conftest import PG
from tests.conftest import test_database_env
from tests.opsportal.embedded import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "S3cret-Pa55word-of-billing"  # noqa: S105 (the server trusts 127.0.0.1, so any password connects)


def _url(name: str, *, password: str = SECRET) -> str:
    return f"postgres://postgres:{password}@127.0.0.1:5432/{name}"


def _use(settings, text: str) -> None:
    found = parse_database_urls(text, origin="BACKUP_DATABASE_URLS")
    settings.BACKUP_DATABASE_URLS, settings.BACKUP_DATABASE_URL_PROBLEMS = found.databases, found.problems


def _sql(dbname: str, statement: str, params=None):
    with psycopg.connect(f"{PG}/{dbname}", autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def other_databases(settings, backup_dir, django_db_blocker) -> Iterator[dict[str, str]]:
    """Two databases beside the test database (billing with 3 invoices, crm with 2 contacts), configured by URL."""
    base = connection.settings_dict["NAME"]
    names = {"billing": f"{base}_billing", "crm": f"{base}_crm"}
    with django_db_blocker.unblock():
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            for dbname in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{dbname}"')
        _sql(names["billing"], "CREATE TABLE invoices (id int PRIMARY KEY, amount numeric); "
                               "INSERT INTO invoices VALUES (1, 10), (2, 20), (3, 30)")
        _sql(names["crm"], "CREATE SCHEMA sales; CREATE TABLE sales.contacts (email text); "
                           "INSERT INTO sales.contacts VALUES ('a@example.com'), ('b@example.com')")
    _use(settings, f"billing={_url(names['billing'])}, crm={_url(names['crm'])}")
    yield names
    with django_db_blocker.unblock(), psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        # the two databases and any side database of their restores (<name>__restoring_<id>, ...), nothing else
        leftovers = [row[0] for dbname in names.values() for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s", [dbname, f"{dbname}\\_\\_%"])]
        for dbname in leftovers:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def _manifest(backup_dir, run: BackupRun) -> tuple[dict, str]:
    text = (backup_dir / run.storage_prefix / "manifest.json").read_text()
    return json.loads(text), text


def test_each_named_database_is_a_source_with_its_own_row_counts(other_databases, backup_dir, run_backup, caplog):
    caplog.set_level(logging.DEBUG)
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    data, text = _manifest(backup_dir, run)
    artifacts = {f"{a['kind']}:{a['name']}": a for a in data["artifacts"]}
    assert list(artifacts) == ["database:default", "postgres:billing", "postgres:crm"]
    billing, crm = artifacts["postgres:billing"], artifacts["postgres:crm"]
    assert billing["metadata"]["row_counts"] == {"public.invoices": 3}
    assert billing["metadata"]["database"] == other_databases["billing"]
    assert crm["metadata"]["row_counts"] == {"sales.contacts": 2}
    assert "pg_restore" in data["how_to_restore"][billing["path"]]
    run.refresh_from_db()
    assert SECRET not in text + run.log + caplog.text


def test_a_named_database_is_restored_in_place_and_never_migrated(other_databases, backup_dir, run_backup):
    billing = other_databases["billing"]
    run = run_backup(only=["postgres:billing"])
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    assert [f"{a.kind}:{a.name}" for a in run.artifacts.all()] == ["postgres:billing"]
    _sql(billing, "DELETE FROM invoices WHERE id > 1; CREATE TABLE made_later (x int)")
    portal_runs = BackupRun.objects.count()

    restore = restore_run_create_and_execute(run_id=run.pk, only="postgres:billing")

    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert _sql(billing, "SELECT id FROM invoices ORDER BY id") == [(1,), (2,), (3,)]
    tables = _sql(billing, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    assert tables == [("invoices",)]  # no made_later, and no django_migrations: not treated as the portal's own
    assert "swapped in" in restore.log
    # the safety backup holds the database as it was just before, and only it
    assert [f"{a.kind}:{a.name}" for a in restore.safety_run.artifacts.all()] == ["postgres:billing"]
    assert restore.safety_run.artifacts.get().metadata["row_counts"] == {"public.invoices": 1, "public.made_later": 0}
    # the portal's catalog was not restored (only its new runs: the safety backup)
    assert BackupRun.objects.count() == portal_runs + 1
    assert restore.target == f"postgres:postgres://127.0.0.1:5432/{billing}"
    assert SECRET not in restore.log + restore.target + restore.error


def test_a_drill_restores_each_named_database_on_its_own_server_and_compares_row_counts(other_databases,
                                                                                       run_backup):
    run = run_backup()
    result = backup_run_verify(run_id=run.pk, drill=True)
    assert result.ok, result.problems
    drilled = [line for line in result.checked if " drill: " in line]
    assert [line.split(" drill")[0] for line in drilled] == ["database:default", "postgres:billing", "postgres:crm"]
    run.refresh_from_db()
    assert run.verification == BackupRun.Verification.DRILL_PASSED


def test_restore_refuses_a_database_that_is_no_longer_named(other_databases, settings, run_backup):
    run = run_backup(only=["postgres:crm"])
    _use(settings, f"billing={_url(other_databases['billing'])}")
    restore = restore_run_create_and_execute(run_id=run.pk)
    assert restore.status == RestoreRun.Status.REFUSED
    assert "BACKUP_DATABASE_URLS does not name" in restore.error


def test_a_failing_named_database_fails_the_backup_without_showing_its_password(settings, backup_dir, run_backup,
                                                                               caplog):
    caplog.set_level(logging.DEBUG)
    missing = f"{connection.settings_dict['NAME']}_nowhere"
    _use(settings, f"ghost={_url(missing)}")
    run = run_backup()
    assert run.status == BackupRun.Status.FAILED
    assert run.error.startswith("postgres:ghost: ")
    assert missing in run.error
    assert SECRET not in run.error + run.log + caplog.text


def test_a_bad_entry_fails_the_backup_that_includes_it_but_not_one_of_the_portal_alone(settings, backup_dir,
                                                                                      run_backup):
    _use(settings, f"shop=mysql://app:{SECRET}@127.0.0.1/shop")
    run = run_backup()
    assert run.status == BackupRun.Status.FAILED
    assert "postgres:shop" in run.error and "only PostgreSQL" in run.error
    assert SECRET not in run.error + run.log
    assert run_backup(only=["database:default"]).status == BackupRun.Status.SUCCEEDED


def test_the_backup_command_refuses_to_start_on_a_bad_entry(settings, backup_dir):
    from django.core.management.base import SystemCheckError

    _use(settings, f"shop=mysql://app:{SECRET}@127.0.0.1/shop")
    with pytest.raises(SystemCheckError) as raised:
        call_command("backup", skip_checks=False)  # as manage.py runs it
    assert "backups.E013" in str(raised.value) and SECRET not in str(raised.value)
    assert not BackupRun.objects.exists()


def test_the_admin_lists_the_sources_without_passwords_and_runs_one(other_databases, runner_client):
    page = runner_client.get(reverse("admin:backups_backuprun_changelist"))
    text = page.content.decode()
    assert "postgres:billing" in text and "postgres:crm" in text
    assert f"postgres://127.0.0.1:5432/{other_databases['billing']}" in text
    assert SECRET not in text

    runner_client.post(reverse("admin:backups_backuprun_run_now"), {"only": "postgres:crm"})
    assert BackupRun.objects.get().only == ["postgres:crm"]


def test_the_admin_starts_nothing_for_a_source_that_is_not_configured(other_databases, runner_client):
    response = runner_client.post(reverse("admin:backups_backuprun_run_now"), {"only": "postgres:nope"}, follow=True)
    assert "postgres:nope is not a configured source" in response.content.decode()
    assert not BackupRun.objects.exists()


def test_the_admin_shows_a_bad_entry_as_a_problem(settings, backup_dir, runner_client):
    _use(settings, f"shop=mysql://app:{SECRET}@127.0.0.1/shop")
    text = runner_client.get(reverse("admin:backups_backuprun_changelist")).content.decode()
    assert "postgres:shop" in text and "only PostgreSQL" in text
    assert SECRET not in text


def test_the_admin_restore_page_names_the_database_and_asks_for_its_name(other_databases, run_backup,
                                                                        super_client):
    run = run_backup(only=["postgres:billing"])
    page = super_client.get(reverse("admin:backups_backuprun_restore", args=[run.pk])).content.decode()
    billing = other_databases["billing"]
    assert f"postgres://127.0.0.1:5432/{billing}" in page
    assert f"<code>{billing}</code>" in page  # the word to type is the database's own name
    assert SECRET not in page


def test_the_command_line_reads_the_urls_from_the_file_and_restores_in_place(other_databases, backup_dir, tmp_path):
    """End to end through the real settings: BACKUP_DATABASE_URLS_FILE holds the password, the variable does not."""
    billing = other_databases["billing"]
    urls_file = tmp_path / "dburls"
    urls_file.write_text(f"# secrets of the other databases\nbilling={_url(billing)}\n")
    env = test_database_env(BACKUP_DIR=str(backup_dir), VAR_DIR=str(tmp_path / "var"), BACKUP_FILES="",
                            BACKUP_DOCKER_VOLUMES="", BACKUP_AGE_RECIPIENTS="", BACKUP_DATABASE_URLS="",
                            BACKUP_DATABASE_URLS_FILE=str(urls_file))

    def manage(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert SECRET not in done.stdout + done.stderr
        assert done.returncode == 0, done.stderr
        return done

    printed = json.loads(manage("backup", "--only", "postgres:billing", "--json").stdout)
    assert [(a["kind"], a["name"]) for a in printed["artifacts"]] == [("postgres", "billing")]
    _sql(billing, "UPDATE invoices SET amount = 0")
    manage("restore", str(printed["id"]), "--only", "postgres:billing", "--yes")
    assert _sql(billing, "SELECT sum(amount) FROM invoices") == [(60,)]


def test_a_database_on_another_server_is_backed_up_restored_and_drilled_there(throwaway_postgres, settings,
                                                                             backup_dir, run_backup):
    """A second PostgreSQL server of this test's own (throwaway_postgres): the portal knows it only by URL."""
    other_server = throwaway_postgres
    other_server.create_database("remote_billing")

    def remote(statement: str, dbname: str = "remote_billing"):
        with psycopg.connect(other_server.url_for(dbname), autocommit=True) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else None

    remote("CREATE TABLE invoices (id int); INSERT INTO invoices SELECT generate_series(1, 5)")
    _use(settings, f"remote=postgres://postgres:{SECRET}@127.0.0.1:{other_server.port}/remote_billing")

    run = run_backup(only=["postgres:remote"])
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    assert run.artifacts.get().metadata["row_counts"] == {"public.invoices": 5}
    remote("TRUNCATE invoices")
    restore = restore_run_create_and_execute(run_id=run.pk, only="postgres:remote")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert remote("SELECT count(*) FROM invoices") == [(5,)]
    result = backup_run_verify(run_id=run.pk, drill=True)
    assert result.ok, result.problems

    def databases() -> set[str]:
        return {row[0] for row in remote("SELECT datname FROM pg_database", "postgres")}

    # the drill and the swap built their databases on that server, and left none behind
    assert databases() == {"postgres", "template0", "template1", "remote_billing"}
    # what a killed drill or restore would leave there: the reaper reaches that server through the URL
    remote("CREATE DATABASE opsportal_drill_1_abcdef", "postgres")
    remote("CREATE DATABASE remote_billing__restoring_99", "postgres")
    assert "opsportal_drill_1_abcdef" in scratch_databases_reap()
    assert "remote_billing__restoring_99" in restore_databases_reap()
    assert databases() == {"postgres", "template0", "template1", "remote_billing"}
