"""Clusters the portal restores: a data directory, a port, pg_ctl; an owner file so a killed worker's are reaped.

Every restore into a new data directory registers it under BACKUP_PGBACKREST_SCRATCH_DIR/owners/ (host, pid, data
directory, whether the portal created it) before pgBackRest writes a byte. A restore that ends removes its entry; a
drill also removes the cluster. The reaper removes the clusters of entries whose process on this host is gone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings
from django.utils.translation import gettext as _

from backups import postgres
from backups.physical.command import pid_alive
from backups.physical.config import RunAs, pgbackrest_env

logger = logging.getLogger("backups")


class ClusterError(Exception):
    pass


def owners_dir() -> Path:
    return settings.BACKUP_PGBACKREST_SCRATCH_DIR / "owners"


def pg_bin(tool: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"))
    if settings.BACKUP_PG_BIN_DIR:
        return postgres.tool_path(tool)
    if found:
        return str(found[-1])
    return postgres.tool_path(tool)


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _chown_to_run_as(path: Path) -> None:
    user = RunAs.from_settings().user
    if user:
        shutil.chown(path, user, user)


@dataclass
class RestoredCluster:
    data: Path
    port: int
    socket_dir: Path
    created_data_dir: bool
    owner_file: Path | None = None

    @property
    def log_file(self) -> Path:
        return self.socket_dir / f"postgresql-{self.port}.log"

    def settings_dict(self) -> dict:
        return {"HOST": "127.0.0.1", "PORT": str(self.port), "USER": "postgres", "PASSWORD": "", "NAME": "postgres",
                "OPTIONS": {}}

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        from backups.physical.config import database_settings

        db = {**database_settings(), "HOST": "127.0.0.1", "PORT": str(self.port)}
        return postgres.connect(db, dbname=dbname)

    # --- life cycle -----------------------------------------------------------------------------------------------
    def register(self, *, purpose: str, restore_id: int | None) -> None:
        owners_dir().mkdir(parents=True, exist_ok=True)
        self.owner_file = owners_dir() / f"{uuid.uuid4().hex}.json"
        temporary = self.owner_file.with_suffix(".tmp")
        temporary.write_text(json.dumps({
            "host": socket.gethostname(), "pid": os.getpid(), "data": str(self.data), "port": self.port,
            "socket_dir": str(self.socket_dir), "created_data_dir": self.created_data_dir, "purpose": purpose,
            "restore_id": restore_id, "at": time.time(),
        }))
        temporary.replace(self.owner_file)

    def release(self) -> None:
        """The portal no longer owns it (a restore the operator keeps): the reaper must leave it alone."""
        if self.owner_file is not None:
            self.owner_file.unlink(missing_ok=True)
            self.owner_file = None

    def write_settings(self) -> None:
        """Its own port and socket folder, kept in postgresql.auto.conf so a restart by hand keeps them."""
        conf = self.data / "postgresql.conf"
        if not conf.exists():  # Debian keeps the configuration outside the data directory
            conf.write_text("# written by OpsPortal for a restored cluster\nlisten_addresses = '127.0.0.1'\n")
            _chown_to_run_as(conf)
        hba = self.data / "pg_hba.conf"
        if not hba.exists():
            hba.write_text("local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n")
            _chown_to_run_as(hba)
        with (self.data / "postgresql.auto.conf").open("a") as auto:
            auto.write(f"\n# OpsPortal: the restored cluster's own port and socket folder\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.socket_dir}'\nlisten_addresses = '127.0.0.1'\n")

    def _pg_ctl(self, *args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            [pg_bin("pg_ctl"), "-D", str(self.data), *args], env=pgbackrest_env(), user=RunAs.from_settings().user,
            cwd="/", capture_output=True, text=True, timeout=timeout + 30, stdin=subprocess.DEVNULL,
        )

    def start(self, *, timeout: float) -> None:
        """Start it and wait until recovery is done and it accepts writes (promoted)."""
        result = self._pg_ctl("-w", "-t", str(int(timeout)), "-l", str(self.log_file), "start", timeout=timeout)
        if result.returncode != 0:
            raise ClusterError(
                _("The restored cluster did not start: %(error)s. Its log: %(log)s")
                % {"error": (result.stderr or result.stdout).strip()[-500:], "log": self.log_tail()}
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.connect() as conn:
                    if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                        return
            except postgres.ToolError:
                pass
            if time.monotonic() > deadline:
                raise ClusterError(_("The restored cluster was still recovering after %(seconds)s s. Its log: "
                                     "%(log)s") % {"seconds": int(timeout), "log": self.log_tail()})
            time.sleep(0.3)

    def log_tail(self, lines: int = 8) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log_file.read_text(errors="replace").strip().splitlines()[-lines:])
        return ""

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def stop(self, *, mode: str = "fast") -> None:
        if self.running():
            self._pg_ctl("-m", mode, "-w", "-t", "60", "stop", timeout=60)

    def remove(self) -> None:
        """Stop it and delete what the portal created; then forget it."""
        with contextlib.suppress(Exception):
            self.stop(mode="immediate")
        if self.created_data_dir:
            shutil.rmtree(self.data, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.log_file.unlink()
        self.release()


def prepare_data_dir(path: Path) -> bool:
    """Make an empty data directory for a restore; True if the portal created it. Refuses a non-empty one."""
    if path.exists():
        if not path.is_dir() or any(path.iterdir()):
            raise ClusterError(_("%(path)s exists and is not empty; restore into a new or empty directory.")
                               % {"path": path})
        created = False
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700)
        created = True
    os.chmod(path, 0o700)
    _chown_to_run_as(path)
    return created


def scratch_cluster(*, label: str) -> RestoredCluster:
    """A new scratch folder (data directory and socket) on a spare port, for a drill."""
    base = settings.BACKUP_PGBACKREST_SCRATCH_DIR
    base.mkdir(parents=True, exist_ok=True)
    folder = base / f"{label}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    _chown_to_run_as(folder)
    data = folder / "data"
    prepare_data_dir(data)
    return RestoredCluster(data=data, port=free_port(), socket_dir=folder, created_data_dir=True)


def scratch_clusters_reap() -> list[str]:
    """Remove the clusters whose owner process on this host is gone; return their data directories."""
    folder = owners_dir()
    if not folder.is_dir():
        return []
    host = socket.gethostname()
    reaped = []
    for entry in sorted(folder.glob("*.json")):
        try:
            owner = json.loads(entry.read_text())
        except (OSError, ValueError):
            continue
        if owner.get("host") != host or pid_alive(int(owner.get("pid") or 0)):
            continue
        cluster = RestoredCluster(data=Path(owner["data"]), port=int(owner.get("port") or 0),
                                  socket_dir=Path(owner.get("socket_dir") or owner["data"]),
                                  created_data_dir=bool(owner.get("created_data_dir")), owner_file=entry)
        cluster.remove()
        if cluster.created_data_dir and cluster.socket_dir.parent == settings.BACKUP_PGBACKREST_SCRATCH_DIR:
            shutil.rmtree(cluster.socket_dir, ignore_errors=True)
        logger.warning("removed the restored cluster %s of a lost worker (pid %s)", owner["data"], owner.get("pid"))
        reaped.append(owner["data"])
        _fail_its_restore(owner.get("restore_id"), owner["data"])
    return reaped


def _fail_its_restore(restore_id: int | None, data: str) -> None:
    if not restore_id:
        return
    from django.utils import timezone

    from backups.models import RestoreRun

    RestoreRun.objects.filter(pk=restore_id, status=RestoreRun.Status.RUNNING).update(
        status=RestoreRun.Status.FAILED, finished_at=timezone.now(), current_step="",
        error=_("worker lost mid-restore; its partial cluster %(data)s was removed. The running cluster was not "
                "touched: restore again.") % {"data": data},
    )
