"""Hypothesis throws hostile input at the JSON endpoints and the command line: a clean answer or refusal, never a
crash, a 500, or a leaked token. Example counts are bounded so the suite stays fast."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backups.models import BackupRun, RestoreRun

pytestmark = [pytest.mark.django_db, pytest.mark.security]

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TOKEN = "the-real-token-0123456789abcdef"
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
query_values = st.dictionaries(
    st.sampled_from(["format", "details", "check", "q", "host", "since"]), st.text(max_size=40), max_size=3
)


@pytest.fixture
def api(settings):
    settings.HEALTH_TOKEN = TOKEN
    settings.METRICS_TOKEN = TOKEN
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker"]  # no worker or engine is part of these tests


def _assert_clean(response) -> None:
    assert response.status_code in (200, 400, 401, 403, 404, 405, 406, 503), response.status_code
    if response["Content-Type"].startswith("application/json"):
        json.loads(response.content)
    assert TOKEN.encode() not in response.content


@FUZZ
@given(path=st.sampled_from(["/api/system/health", "/api/system/metrics", "/api/system/health/ready"]),
       query=query_values, authorization=header_text, accept=header_text)
def test_the_api_answers_any_query_and_header_cleanly(client, api, caplog, path, query, authorization, accept):
    with caplog.at_level(logging.WARNING):
        response = client.get(path, query, HTTP_AUTHORIZATION=authorization, HTTP_ACCEPT=accept)
    _assert_clean(response)
    if authorization.lower().startswith("bearer ") and authorization[7:].strip():
        assert response.status_code in (401, 403)  # never the real token: hypothesis cannot guess it
        assert authorization[7:].strip() not in caplog.text or len(authorization[7:].strip()) < 4


@FUZZ
@given(run_id=st.integers(min_value=-(2**63), max_value=2**63), body=st.binary(max_size=200))
def test_the_backup_progress_endpoint_answers_any_id_cleanly(client, run_id, body):
    client.force_login(User.objects.get_or_create(username="root", is_staff=True, is_superuser=True)[0])
    if run_id < 0:
        response = client.get(f"/admin/backups/backuprun/{run_id}/progress/")
        assert response.status_code in (302, 404)  # not a run id: the admin's "not found" redirect or 404
        return
    response = client.get(f"/admin/backups/backuprun/{run_id}/progress/", {"junk": body.hex()})
    _assert_clean(response)


cli_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=60)


@FUZZ
@given(run_id=st.integers(min_value=0, max_value=2**31), only=cli_text, into=cli_text)
def test_restore_refuses_any_selector_or_target_without_crashing(backup_dir, run_id, only, into):
    before = RestoreRun.objects.count()
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(run_id), "--only", only, "--into", into, "--yes")
    assert "Traceback" not in str(refused.value)
    message = str(refused.value)
    # argparse's own refusal (an --into that looks like an option), or the missing backup, said before anything else
    assert message.startswith("Error: argument") or message == f"There is no backup #{run_id}.", message
    assert RestoreRun.objects.count() == before  # a typo leaves no refused record behind
    assert not BackupRun.objects.exists()


# Arguments that are not options: an option-looking one ("--help", "--version", "-v 3") is argparse's to answer.
cli_garbage = cli_text.filter(lambda text: not text.startswith("-"))


@FUZZ
@given(argument=cli_garbage)
def test_verifybackup_and_listbackups_refuse_garbage_cleanly(backup_dir, argument):
    # verifybackup: no backup exists, so any RUN_ID (an integer or not) is refused with a message, not a crash.
    with pytest.raises(CommandError) as refused:
        call_command("verifybackup", argument)
    assert "Traceback" not in str(refused.value)
    # listbackups takes no argument besides --json (README, docs/guides/backup-and-restore.md): an extra one is
    # refused, naming it, before anything is printed.
    out = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("listbackups", "--json", argument, stdout=out)
    assert str(refused.value).startswith("Error: unrecognized arguments:"), str(refused.value)
    assert argument in str(refused.value)
    assert out.getvalue() == ""
    # and without it, --json prints the (empty) catalog as JSON
    call_command("listbackups", "--json", stdout=out)
    assert json.loads(out.getvalue()) == []
