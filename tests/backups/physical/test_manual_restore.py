"""When the portal is gone: the backup guide's steps with pgbackrest and pg_ctl alone (no portal code)."""

from __future__ import annotations

import psycopg
import pytest

from backups.models import BackupRun
from backups.physical.backup import physical_backup_create
from backups.services.backup import backup_run_execute
from tests.backups.physical.conftest import moment_between_commits, order_ids, write_rows
from tests.conftest import free_port, wait_for
from tests.pg_cluster import PG_BIN

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_guide_restores_to_a_time_with_pgbackrest_alone(physical):
    write_rows(physical, range(1, 6))
    run = backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli").pk)
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    write_rows(physical, range(6, 9))
    target = moment_between_commits(physical)
    write_rows(physical, range(9, 12))
    physical.switch_and_wait()

    # docs/guides/backup-and-restore.md, "Restoring a physical backup by hand": the same commands, as postgres.
    conf, stanza, restored, port = str(physical.conf), physical.stanza, physical.folder / "restored", free_port()
    listing = physical.as_postgres("pgbackrest", f"--config={conf}", f"--stanza={stanza}", "info").stdout
    assert run.artifacts.get().path in listing
    physical.as_postgres("mkdir", "-m", "700", str(restored))
    physical.as_postgres("pgbackrest", f"--config={conf}", f"--stanza={stanza}", f"--pg1-path={restored}",
                         f"--set={run.artifacts.get().path}",  # the guide: name the set ending before the time
                         "--type=time", f"--target={target.replace('T', ' ')}", "--target-action=promote",
                         "--archive-mode=off", "restore", timeout=600)
    physical.as_postgres("sh", "-c", f"echo 'port = {port}' >> {restored}/postgresql.auto.conf")
    physical.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(restored), "-w", "-t", "300", "-l",
                         str(physical.folder / "restored.log"), "start", timeout=400)

    def promoted() -> bool:
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres") as conn:
                return not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        except psycopg.OperationalError:
            return False

    wait_for(promoted, timeout=120, what="the restored cluster to be promoted")
    assert order_ids(port) == list(range(1, 9))
