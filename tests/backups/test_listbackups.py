"""`manage.py listbackups [--limit N] [--before ID] [--all] [--json]`: pages of the catalog, newest first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backups.models import BackupArtifact, BackupRun
from tests.backups.conftest import make_run

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def catalog() -> list[BackupRun]:
    """120 runs, one an hour, newest last; three share a creation time (the page order must still be total)."""
    now = timezone.now().replace(microsecond=0)
    runs = [make_run(created_at=now - timedelta(hours=120 - n), total_bytes=n, log="x" * 1000) for n in range(120)]
    tie = runs[60].created_at
    BackupRun.objects.filter(pk__in=[runs[59].pk, runs[61].pk]).update(created_at=tie)
    for run in runs[-3:]:
        BackupArtifact.objects.create(run=run, kind="database", name="default", path=f"{run.pk}/db.zst", sha256="0")
    return sorted(BackupRun.objects.all(), key=lambda r: (r.created_at, r.pk), reverse=True)


def listing(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("listbackups", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def ids_in(text: str) -> list[int]:
    return [int(line.split()[0]) for line in text.splitlines() if line.split() and line.split()[0].isdigit()]


def test_the_newest_50_by_default_then_page_by_page_to_the_oldest(catalog):
    out, _ = listing()
    assert ids_in(out) == [run.pk for run in catalog[:50]]
    assert f"older ones: listbackups --before {catalog[49].pk}" in out

    seen, before = ids_in(out), catalog[49].pk
    while True:
        out, _ = listing("--limit", "30", "--before", str(before))
        page = ids_in(out)
        seen += page
        if "--before" not in out:
            break
        before = page[-1]
    assert seen == [run.pk for run in catalog]  # every run once, in order, across the tie in creation time
    assert listing("--before", str(catalog[-1].pk))[0].strip() == "No older backups."


def test_json_pages_carry_artifacts_and_say_on_stderr_where_the_next_page_starts(catalog):
    out, err = listing("--json", "--limit", "5")
    listed = json.loads(out)
    assert [item["id"] for item in listed] == [run.pk for run in catalog[:5]]
    assert listed[0]["artifacts"][0]["path"] == f"{catalog[0].pk}/db.zst"
    assert "log" not in listed[0]
    assert f"--before {catalog[4].pk}" in err
    out, err = listing("--json", "--all")
    assert len(json.loads(out)) == 120 and err == ""


def test_a_page_reads_no_log_and_costs_the_same_queries_deep_in_the_catalog(catalog):
    with CaptureQueriesContext(connection) as first:
        listing("--json", "--limit", "10")
    with CaptureQueriesContext(connection) as deep:
        listing("--json", "--limit", "10", "--before", str(catalog[100].pk))
    assert len(first) == 2 and len(deep) == 3  # runs, artifacts (and the anchor run's time)
    assert not any('"log"' in q["sql"] or "verification_detail" in q["sql"] for q in [*first, *deep])
    assert all(any("LIMIT 11" in q["sql"] for q in queries) for queries in (first, deep))  # one more: "older?"


@pytest.mark.parametrize("args", [["--limit", "0"], ["--limit", "-3"], ["--limit", "ten"], ["--before", "x"]])
def test_bad_values_are_refused_with_a_clear_error(args):
    with pytest.raises(CommandError, match="expected a whole number of 1 or more"):
        listing(*args)


def test_an_unknown_before_id_is_refused():
    with pytest.raises(CommandError, match=r"There is no backup #424242\."):
        listing("--before", "424242")


def test_the_command_line_exits_2_on_a_bad_limit_with_the_reason_and_no_traceback():
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "tests.settings", **_db_env()}
    bad = subprocess.run(
        [sys.executable, "manage.py", "listbackups", "--limit", "0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert "argument --limit: expected a whole number of 1 or more, got '0'" in bad.stderr
    assert "Traceback" not in bad.stderr


def _db_env() -> dict[str, str]:
    return {key: os.environ[key] for key in ("TEST_DATABASE_URL", "TEST_REDIS_URL") if key in os.environ}
