"""BACKUP_DATABASE_URLS(_FILE): named PostgreSQL URLs, their secrets in a file if wanted; every mistake is a system
check error with an id (backups.E011-E014) whose message never quotes a password."""

from __future__ import annotations

import subprocess
import sys

from django.core import checks
from django.views.debug import SafeExceptionReporterFilter

from opsportal.lib.database_urls import parse_database_urls, read_database_urls
from tests.opsportal.embedded import ROOT

SECRET = "Pa55,w0rd-never-shown"  # noqa: S105 (a test value; the comma is part of it)


def _ids(found) -> list[str]:
    return [problem.check_id for problem in found.problems]


def _rendered(found) -> str:
    return " ".join(problem.render() for problem in found.problems)


def test_named_urls_separated_by_commas_become_settings_dicts_even_with_a_comma_in_a_password():
    found = parse_database_urls(
        f"billing=postgres://app:{SECRET}@db1:5433/billing, crm=postgresql://crm@db2/crm?sslmode=require",
        origin="BACKUP_DATABASE_URLS",
    )
    assert found.problems == []
    assert list(found.databases) == ["billing", "crm"]
    billing = found.databases["billing"]
    assert (billing["HOST"], billing["PORT"], billing["NAME"], billing["USER"]) == ("db1", 5433, "billing", "app")
    assert billing["PASSWORD"] == SECRET
    assert found.databases["crm"]["OPTIONS"] == {"sslmode": "require"}


def test_the_file_has_one_entry_a_line_with_comments_and_adds_to_the_variable(tmp_path):
    secrets_file = tmp_path / "dburls"
    secrets_file.write_text(f"# the CRM, password from the vault\ncrm=postgres://crm:{SECRET}@db2/crm\n\n")
    found = read_database_urls("billing=postgres://app@db1/billing", str(secrets_file),
                               variable="BACKUP_DATABASE_URLS")
    assert found.problems == []
    assert sorted(found.databases) == ["billing", "crm"]
    assert found.databases["crm"]["PASSWORD"] == SECRET


def test_a_name_given_twice_is_refused_and_neither_database_is_kept(tmp_path):
    secrets_file = tmp_path / "dburls"
    secrets_file.write_text(f"billing=postgres://app:{SECRET}@db9/billing\n")
    found = read_database_urls("billing=postgres://app@db1/billing", str(secrets_file),
                               variable="BACKUP_DATABASE_URLS")
    assert _ids(found) == ["backups.E012"]
    assert found.problems[0].name == "billing"
    assert found.databases == {}


def test_entries_that_are_not_name_equals_url_or_have_a_bad_name_are_refused_without_quoting_them():
    found = parse_database_urls(
        f"postgres://app:{SECRET}@db1/billing?sslmode=require, bad/name=postgres://app:{SECRET}@db1/x",
        origin="BACKUP_DATABASE_URLS",
    )
    assert _ids(found) == ["backups.E011", "backups.E011"]
    assert SECRET not in _rendered(found)
    assert "Entry 1 of BACKUP_DATABASE_URLS is not NAME=URL" in _rendered(found)
    assert found.databases == {}


def test_only_postgresql_urls_are_accepted_and_the_error_names_the_scheme_not_the_password():
    found = parse_database_urls(
        f"shop=mysql://app:{SECRET}@db1/shop,odd=foo://app:{SECRET}@db1/x,port=postgres://app:{SECRET}@db1:http/x,"
        f"nodb=postgres://app:{SECRET}@db1",
        origin="BACKUP_DATABASE_URLS",
    )
    assert _ids(found) == ["backups.E013"] * 4
    text = _rendered(found)
    assert "mysql://" in text and "only PostgreSQL" in text
    assert SECRET not in text
    assert found.databases == {}


def test_an_unreadable_file_is_an_error_naming_the_file(tmp_path):
    found = read_database_urls("", str(tmp_path / "missing"), variable="BACKUP_DATABASE_URLS")
    assert _ids(found) == ["backups.E014"]
    assert str(tmp_path / "missing") in _rendered(found)


def test_the_system_check_reports_each_problem_with_its_id(settings):
    found = parse_database_urls(f"shop=mysql://app:{SECRET}@db1/shop", origin="BACKUP_DATABASE_URLS")
    settings.BACKUP_DATABASE_URLS, settings.BACKUP_DATABASE_URL_PROBLEMS = found.databases, found.problems
    errors = [message for message in checks.run_checks(tags=["backups"]) if message.id.startswith("backups.E01")]
    assert [error.id for error in errors] == ["backups.E013"]
    assert errors[0].level == checks.ERROR
    assert SECRET not in errors[0].msg


def test_error_pages_hide_the_passwords(settings):
    found = parse_database_urls(f"billing=postgres://app:{SECRET}@db1/billing", origin="BACKUP_DATABASE_URLS")
    settings.BACKUP_DATABASE_URLS = found.databases
    shown = SafeExceptionReporterFilter().get_safe_settings()["BACKUP_DATABASE_URLS"]
    assert shown["billing"]["HOST"] == "db1"
    assert SECRET not in repr(shown)


def test_manage_py_check_refuses_a_bad_entry_at_start_without_printing_the_password(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "ENV_FILE": "",
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "test-only-key-for-this-check",
        "BACKUP_DATABASE_URLS": f"shop=mysql://app:{SECRET}@db1/shop,billing=postgres://app:{SECRET}@db1/billing",
        "BACKUP_DATABASE_URLS_FILE": str(tmp_path / "missing"),
    }
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "backups.E013" in output and "backups.E014" in output
    assert SECRET not in output


def test_the_portals_own_database_is_refused_under_another_name():
    portal = {"ENGINE": "django.db.backends.postgresql", "NAME": "opsportal", "HOST": "127.0.0.1", "PORT": 5432}
    found = read_database_urls(
        f"self=postgres://app:{SECRET}@localhost/opsportal,other=postgres://app@127.0.0.1/billing", "",
        variable="BACKUP_DATABASE_URLS", portal=portal,
    )
    assert _ids(found) == ["backups.E015"]
    assert found.problems[0].name == "self"
    assert list(found.databases) == ["other"]
