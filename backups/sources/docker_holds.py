"""Containers a volume backup stopped, written down before the stop, so that no death leaves them down.

Before a container labelled `opsportal.backup.stop=true` is stopped for a volume archive, a hold is written under
VAR_DIR/docker-holds (one small JSON file per container, written atomically and fsynced): the container, its restart
policy, and the process that stopped it (host, pid, start time). The normal path starts the container, puts its
policy back and removes the hold. When it cannot (the process is SIGKILLed, the engine stops answering at that
moment), the hold stays, and `docker_holds_repair()` - on every reaper tick and at every worker start on this host -
starts the container, puts its own restart policy back and removes the helper containers the dead process left.

A hold is repaired when its process on this host is gone, or when that process gave it up ("released": the engine
did not answer when it tried to put the container back). Helper containers carry the owner's host and pid too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from django.conf import settings

from backups.services.reaper import worker_process_gone
from opsportal.lib.files import write_json_durably
from opsportal.lib.lazy import lazy_module

docker = lazy_module("docker")  # imported on first use: ~170 ms of start-up otherwise

logger = logging.getLogger("backups")

FOLDER_NAME = "docker-holds"
OWNER_LABEL = "opsportal.backup.owner"


@dataclass
class Hold:
    container_id: str
    container_name: str
    volume: str
    restart_policy: dict
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    process_started: float = field(default_factory=lambda: psutil.Process().create_time())
    released: bool = False

    @property
    def path(self) -> Path:
        return holds_folder() / f"{self.container_id[:64]}.json"


def holds_folder() -> Path:
    return Path(settings.VAR_DIR) / FOLDER_NAME


def owner_label() -> str:
    """The value helpers are labelled with: who may remove them once that process is gone."""
    return f"{socket.gethostname()}:{os.getpid()}:{psutil.Process().create_time():.0f}"


def hold_write(hold: Hold) -> None:
    """Write the hold so that it survives a crash the moment after (temp file, fsync, rename, fsync the folder)."""
    write_json_durably(hold.path, asdict(hold))


def hold_remove(hold: Hold) -> None:
    with contextlib.suppress(FileNotFoundError):
        hold.path.unlink()


def holds_read() -> list[Hold]:
    holds = []
    for path in sorted(holds_folder().glob("*.json")):
        try:
            holds.append(Hold(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError) as exc:
            logger.error("unreadable container hold %s: %s", path, exc)
    return holds


def _process_gone(host: str, pid: int, started: float) -> bool:
    """The reaper's rule (gone only when certain, a reused pid counts as gone), for a process start time in seconds."""
    return worker_process_gone(host=host, pid=pid, started_at=datetime.fromtimestamp(started, tz=UTC))


def _helper_owner_gone(labels: dict) -> bool:
    host, _sep, rest = (labels.get(OWNER_LABEL) or "").partition(":")
    pid, _sep, started = rest.partition(":")
    if not (host and pid.isdigit() and started.isdigit()):
        return False
    return _process_gone(host, int(pid), float(started))


def docker_holds_repair(client: docker.DockerClient) -> list[str]:
    """Put back every container whose stopper is gone or gave up; remove orphaned helpers. Returns what was done."""
    from backups.sources.docker_volumes import HELPER_LABEL  # the source module imports this one

    done: list[str] = []
    for hold in holds_read():
        if not (hold.released or _process_gone(hold.host, hold.pid, hold.process_started)):
            continue
        try:
            container = client.containers.get(hold.container_id)
        except docker.errors.NotFound:
            hold_remove(hold)  # removed since: nothing to put back
            continue
        if container.status != "running":
            container.start()
            done.append(f"started container {hold.container_name} again (stopped for a backup whose worker is gone)")
        container.update(restart_policy=hold.restart_policy)
        hold_remove(hold)
        logger.warning("container %s put back after a lost backup: running, restart policy %s",
                       hold.container_name, hold.restart_policy.get("Name"))
    for helper in client.containers.list(all=True, filters={"label": f"{HELPER_LABEL}=true"}):
        if _helper_owner_gone(helper.labels):
            with contextlib.suppress(docker.errors.NotFound):
                helper.remove(force=True)
                done.append(f"removed helper container {helper.name}")
    return done


def docker_holds_repair_here() -> list[str]:
    """docker_holds_repair against BACKUP_DOCKER_HOST, if anything could need it; an unreachable engine waits."""
    if not any(holds_folder().glob("*.json")) and not settings.BACKUP_DOCKER_VOLUMES:
        return []
    try:
        client = docker.DockerClient(base_url=settings.BACKUP_DOCKER_HOST, timeout=30)
    except docker.errors.DockerException as exc:
        logger.warning("could not reach the Docker engine to put stopped containers back: %s", exc)
        return []
    try:
        return docker_holds_repair(client)
    except (docker.errors.DockerException, OSError) as exc:  # requests' errors are OSErrors
        logger.warning("could not put stopped containers back yet: %s", exc)
        return []
    finally:
        client.close()
