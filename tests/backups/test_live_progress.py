"""Live progress: a running backup's bytes, percent and ETA move while it runs, read as the pages read them.

The backed-up database is a real PostgreSQL database of a few MB reached through a throttled TCP link of the test's
own, so pg_dump takes seconds instead of a fraction of one; the test reads the run from another connection while the
backup runs in a thread, and asserts what a person watching would see: several different byte counts before the end,
a percentage below 100 and a time left, then 100 % once it succeeded. No timing is asserted.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.management import call_command
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupRun, RestoreRun
from backups.pipeline import decoded
from backups.selectors import backup_overview, backup_run_progress, restore_run_progress
from backups.services.backup import backup_run_create, backup_run_execute
from backups.services.progress import RestoreHeartbeat, progress_figures, source_estimate
from backups.sources import selected
from backups.storage import backup_storage, open_stored
from tests.backups.conftest import PG, current_db_url, make_user, terminal_output
from tests.conftest import free_port, wait_for

ALIAS = "progressdb"
RATE = 3 * 1024 * 1024  # bytes a second through the throttled link


class ThrottledProxy:
    """Forwards TCP to a real server at most RATE bytes a second in each direction: a slow link."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        started, sent = time.monotonic(), 0
        try:
            while data := source.recv(16384):
                sink.sendall(data)
                sent += len(data)
                ahead = sent / RATE - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()


@pytest.fixture
def slow_database(settings, backup_dir, new_database_url) -> Iterator[str]:
    """A second database alias (about 10 MB of rows) behind a throttled link; the only source backed up."""
    url = new_database_url()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger AS SELECT g AS id, md5(random()::text) || md5(g::text) AS note "
                     "FROM generate_series(1, 140000) g")
    proxy = ThrottledProxy(("127.0.0.1", 5432))
    connections.settings[ALIAS] = {**connection.settings_dict, "NAME": name, "HOST": "127.0.0.1",
                                   "PORT": str(proxy.port)}
    settings.BACKUP_DATABASES = [ALIAS]
    try:
        yield url
    finally:
        connections[ALIAS].close()
        del connections.settings[ALIAS]
        if hasattr(connections._connections, ALIAS):
            delattr(connections._connections, ALIAS)
        proxy.close()


@pytest.mark.django_db(transaction=True)
def test_a_running_backup_shows_bytes_growing_a_percent_and_an_eta_before_it_ends(slow_database):
    run = backup_run_create(trigger=BackupRun.Trigger.CLI)
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["run"] = backup_run_execute(run_id=run.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    seen: list[tuple[int, int | None]] = []  # (bytes_done, estimated_bytes) while running, from our own connection
    pages: list[dict] = []  # the run page's progress JSON and the overview's figures, while running
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        while worker.is_alive():
            status, done, estimate = conn.execute(
                "SELECT status, bytes_done, estimated_bytes FROM backups_backuprun WHERE id = %s", [run.pk]
            ).fetchone()
            if status == "running" and done > 0:
                seen.append((done, estimate))
                if len(pages) < 3:
                    live = BackupRun.objects.get(pk=run.pk)
                    pages.append({"page": backup_run_progress(live), "overview": backup_overview()["active_progress"]})
            time.sleep(0.05)
    worker.join()

    result = outcome["run"]
    assert result.status == BackupRun.Status.SUCCEEDED, result.error
    final = result.bytes_done
    assert final == sum(artifact.raw_bytes for artifact in result.artifacts.all())  # raw bytes, before zstd
    intermediate = sorted({done for done, _ in seen if 0 < done < final})
    assert len(intermediate) >= 2, f"progress did not move while running: {seen}"

    # the estimate (the tables' size, not the indexes) is near what the dump really read
    estimate = result.estimated_bytes
    assert {e for _, e in seen} == {estimate}
    assert final / 2 < estimate < final * 2

    page = pages[0]["page"]
    assert 0 <= page["percent"] <= 99 and page["bytes_total"] == estimate
    assert page["fields"]["percent"] == f"{page['percent']} %"
    assert "of about" in page["fields"]["bytes_done"]
    assert any(p["page"]["eta_seconds"] and p["page"]["fields"]["eta"].startswith("about ") for p in pages)
    assert pages[0]["overview"]["percent"].endswith("%")

    after = backup_run_progress(result)
    assert after["finished"] and after["percent"] == 100 and after["eta_seconds"] is None


def test_the_percent_stops_at_99_until_the_end_and_is_hidden_without_an_estimate():
    assert progress_figures(done=150, total=100, elapsed=3).percent == 99  # the estimate was short: not "done" yet
    assert progress_figures(done=150, total=100, elapsed=3).eta_seconds is None
    assert progress_figures(done=150, total=100, elapsed=3, finished=True).percent == 100
    assert progress_figures(done=50, total=None, elapsed=3).percent is None
    figures = progress_figures(done=25, total=100, elapsed=10)  # 2.5 a second, 75 to go
    assert figures.percent == 25 and figures.eta_seconds == pytest.approx(30)


def test_file_and_pipe_estimates(tmp_path, settings, backup_dir):
    data = tmp_path / "portal.env"
    data.write_bytes(b"x" * 12345)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    settings.BACKUP_DATABASES = []
    settings.BACKUP_FILES = [str(data), str(pipe)]
    estimates = {source.name: source_estimate(source) for source in selected(["file"])}
    assert estimates == {str(data): 12345, str(pipe): None}


@pytest.mark.django_db
def test_recent_actions_do_not_keep_the_status_a_run_had_when_started(client, django_capture_on_commit_callbacks):
    client.force_login(make_user("root", superuser=True))
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("admin:backups_backuprun_run_now"))
    run = BackupRun.objects.get()
    entry = LogEntry.objects.get(object_id=str(run.pk), action_flag=ADDITION)
    assert entry.object_repr == f"#{run.pk}"

    BackupRun.objects.filter(pk=run.pk).update(status=BackupRun.Status.SUCCEEDED)  # as the worker does
    page = client.get(reverse("admin:index")).content.decode()
    recent = page[page.index('id="recent-actions-module"'):]
    assert f"#{run.pk}" in recent
    assert "queued" not in recent


@pytest.mark.django_db(transaction=True)
def test_the_backup_command_draws_a_bar_on_a_terminal(slow_database):
    with terminal_output() as (terminal, received):
        call_command("backup", stderr=terminal, stdout=io.StringIO())
    text = received.decode()
    redraws = [part for part in text.split("\r\x1b[K") if part.startswith("backup #")]
    assert len(redraws) >= 2, text  # redrawn in place, not one line per update
    assert any("[#" in part and " %)" in part and "of about" in part for part in redraws), text
    assert any("left" in part for part in redraws), text  # an ETA while bytes were still to come


@pytest.mark.django_db(transaction=True)
def test_the_backup_command_prints_plain_lines_when_not_on_a_terminal(slow_database):
    err, out = io.StringIO(), io.StringIO()
    call_command("backup", stderr=err, stdout=out)
    lines = err.getvalue().splitlines()
    assert "\r" not in err.getvalue() and "\x1b" not in err.getvalue()
    plain = re.compile(r"backup #\d+: [\d.]+ [KM]?B of about [\d.]+ MB \(\d{1,2} %\).*")
    assert any(plain.fullmatch(line) for line in lines), lines
    assert "succeeded" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_restore_shows_bytes_put_back_and_a_percent_of_the_artifacts_raw_size(backup_dir, run_backup):
    """The reading side of a restore's progress: RestoreHeartbeat counts what decoded() yields (its on_bytes) and
    writes it with each beat; the restore page's JSON shows it against the artifact's recorded raw size."""
    backup = run_backup()
    assert backup.status == BackupRun.Status.SUCCEEDED, backup.error
    artifact = backup.artifacts.get(kind="database")
    restore = RestoreRun.objects.create(source_run=backup, status=RestoreRun.Status.RUNNING, only="database",
                                        started_at=timezone.now())
    assert restore_run_progress(restore)["fields"]["bytes_done"] == ""  # nothing counted yet: the rows stay hidden
    heartbeat = RestoreHeartbeat(restore.pk)
    heartbeat.start()
    percents = []
    try:
        with (
            open_stored(backup_storage(), artifact.path) as handle,
            decoded(handle, encrypted=False, limit=artifact.raw_bytes, on_bytes=heartbeat.add) as reader,
        ):
            while chunk := reader.read(artifact.raw_bytes // 4 + 1):  # a slow consumer, a quarter at a time
                expected = heartbeat.bytes_done
                assert expected > 0 and len(chunk) > 0
                # read back as the page reads it, on this thread's own connection, once the heartbeat wrote it
                wait_for(lambda e=expected: RestoreRun.objects.get(pk=restore.pk).bytes_done == e,
                         what=f"bytes_done {expected} written")
                percents.append(restore_run_progress(RestoreRun.objects.get(pk=restore.pk))["percent"])
    finally:
        heartbeat.stop()
    live = RestoreRun.objects.get(pk=restore.pk)
    assert live.bytes_total == artifact.raw_bytes and live.bytes_done == artifact.raw_bytes
    assert percents[0] < percents[-1] <= 99 and len(set(percents)) >= 3  # moved, never 100 % before the end
    fields = restore_run_progress(live)["fields"]
    assert "of about" in fields["bytes_done"] and fields["percent"].endswith("%")


@pytest.mark.django_db
def test_the_overview_shows_the_running_backups_percent_and_time_left(client):
    from datetime import timedelta

    from tests.backups.conftest import make_run

    client.force_login(make_user("root", superuser=True))
    make_run(status=BackupRun.Status.RUNNING, bytes_done=12 * 1024 * 1024, estimated_bytes=40 * 1024 * 1024,
             started_at=timezone.now() - timedelta(seconds=10), current_artifact="database:default")
    page = client.get(reverse("admin:index")).content.decode()
    now = page[page.index('id="overview-now"'):]
    now = now[:now.index("</td>")]
    assert "12.0\xa0MB of about 40.0\xa0MB done" in now
    assert "(30 %, about " in now and " left)" in now


@pytest.mark.django_db(transaction=True)
def test_the_database_estimate_does_not_wait_on_a_locked_table(settings, new_database_url):
    """pg_table_size locks each table: with one held exclusively (a migration), the estimate must not hang the
    backup's start; it answers pg_database_size (no lock) instead."""
    url = new_database_url()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger AS SELECT g AS id FROM generate_series(1, 1000) g")
    connections.settings[ALIAS] = {**connection.settings_dict, "NAME": name}
    settings.BACKUP_DATABASES = [ALIAS]
    try:
        [source] = selected(["database"])
        unlocked = source_estimate(source)
        with psycopg.connect(url) as holder:
            holder.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
            locked = source_estimate(source)
            with psycopg.connect(url, autocommit=True) as conn:
                database_size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            holder.rollback()
        assert 0 < unlocked < database_size  # the tables' size, without catalogs
        assert locked == database_size
    finally:
        connections[ALIAS].close()
        del connections.settings[ALIAS]
        if hasattr(connections._connections, ALIAS):
            delattr(connections._connections, ALIAS)
