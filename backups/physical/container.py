"""Point-in-time restores of PostgreSQL that runs in a container (`BACKUP_PGBACKREST_CONTAINER`, the `db-data` case).

The container's equivalent of "a new data directory and port": a NEW named volume and a NEW container from the same
image, publishing the same container port on a new host port. The running container is never touched:

1. a helper container (same image, user postgres, entrypoint `pgbackrest`) runs `pgbackrest restore` with the new
   volume at the data directory and every other mount of the running container (the repository's volume among them)
   read-only, the PGBACKREST_* options of the portal (its passphrase too) in its environment and the running
   container's pgbackrest.conf copied in: it sees the repository as the backup sees it; it is removed at once;
2. the new container starts PostgreSQL on the new volume with the running container's command, but without its
   archive_mode/archive_command (`-c archive_mode=off`, and the repository is read-only to it): a restored cluster
   never archives into the stanza of the cluster it was restored from; its environment gets the portal's
   pgBackRest options but no secret the running container does not already hold (restored_environment);
3. the portal waits until it is promoted (accepts connections and is not in recovery).

Everything the portal creates carries the labels below (purpose, owner host:pid, restore id). The reaper removes
those of an owner that is gone on this host, except the container and volume of a restore that succeeded (the
operator's now); a drill's and a helper's are always removed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import socket
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.conf import settings
from django.utils.translation import gettext as _

from backups import postgres
from backups.physical.command import describe_failure, pid_alive, scrub

logger = logging.getLogger("backups")

LABEL_PURPOSE = "opsportal.pitr.purpose"  # restore | drill | helper
LABEL_OWNER = "opsportal.pitr.owner"  # host:pid of the worker that made it
LABEL_RESTORE = "opsportal.pitr.restore"  # the RestoreRun's id
DEFAULT_DATA_DIR = "/var/lib/postgresql/data"
DEFAULT_CONFIG = "/etc/pgbackrest/pgbackrest.conf"
DEFAULT_REPO = "/var/lib/pgbackrest"
_ARCHIVE_SETTING = re.compile(r"^(archive_mode|archive_command|archive_library)\s*=", re.IGNORECASE)


class ContainerRestoreRefused(Exception):
    """The restore into a new container cannot work; nothing was created."""


class ContainerRestoreError(Exception):
    """The restore into a new container failed after it began."""


def docker_client() -> contextlib.closing:
    """`with docker_client() as client:` a client of BACKUP_DOCKER_HOST, closed afterwards."""
    import docker

    return contextlib.closing(docker.DockerClient(base_url=settings.BACKUP_DOCKER_HOST, timeout=120))


def data_dir() -> str:
    return settings.BACKUP_PGBACKREST_PG_PATH or DEFAULT_DATA_DIR


def derived_name(restore_id: int) -> str:
    """The new container's name when none is given: the running one's, with `-pitr-<restore id>`."""
    return f"{settings.BACKUP_PGBACKREST_CONTAINER}-pitr-{restore_id}"


def volume_name(container_name: str) -> str:
    return f"{container_name}-data"


def valid_name(name: str) -> bool:
    return bool(re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,100}", name or ""))


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _read_file(container, path: str) -> bytes | None:
    """A file of the container (docker cp, no shell needed); None if it has none there."""
    import docker.errors

    try:
        stream, _stat = container.get_archive(path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        member = archive.next()
        if member is None or not member.isfile():
            return None
        return archive.extractfile(member).read()


def _put_file(container, path: str, content: bytes, *, uid: int = 0, mode: int = 0o644) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(PurePosixPath(path).name)
        info.size, info.mode, info.uid, info.gid, info.mtime = len(content), mode, uid, uid, int(time.time())
        archive.addfile(info, io.BytesIO(content))
    container.put_archive(str(PurePosixPath(path).parent), buffer.getvalue())


def _config_options(text: str, stanza: str) -> dict[str, str]:
    """The [global] options of a pgbackrest.conf, overridden by the stanza's section."""
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if sep:
            sections.setdefault(current, {})[key.strip()] = value.strip()
    return {**sections.get("global", {}), **sections.get(stanza, {})}


def restore_command_line(command: list[str]) -> list[str]:
    """The running container's command without its WAL archiving, and archive_mode=off added."""
    kept: list[str] = []
    skip = False
    for index, part in enumerate(command):
        if skip:
            skip = False
            continue
        if part == "-c" and index + 1 < len(command) and _ARCHIVE_SETTING.match(command[index + 1]):
            skip = True
            continue
        if part.startswith("-c") and _ARCHIVE_SETTING.match(part[2:]):
            continue
        if part.startswith("--") and _ARCHIVE_SETTING.match(part[2:].replace("-", "_")):
            continue
        kept.append(part)
    return [*kept, "-c", "archive_mode=off"]


@dataclass
class SourcePlan:
    """What the new container copies from the running one."""

    image: str
    data_dir: str
    container_port: str  # "5432/tcp"
    host_ip: str
    network: str | None
    command: list[str]
    entrypoint: list[str] | None
    environment: list[str]
    mounts: list = field(default_factory=list)  # docker.types.Mount, read-only, every mount but the data directory
    config_path: str = DEFAULT_CONFIG
    config: bytes | None = None


def source_plan(client, stanza: str) -> SourcePlan:
    """Read the running container; ContainerRestoreRefused if a new container could not restore from its repository."""
    import docker.errors
    from docker.types import Mount

    name = settings.BACKUP_PGBACKREST_CONTAINER
    try:
        source = client.containers.get(name)
    except docker.errors.NotFound:
        raise ContainerRestoreRefused(_("The container %(container)s (BACKUP_PGBACKREST_CONTAINER) does not exist.")
                                      % {"container": name}) from None
    attrs = source.attrs
    target = data_dir()
    mounts, data_mount = [], None
    for mount in attrs.get("Mounts") or []:
        destination = mount.get("Destination", "")
        if destination.rstrip("/") == target.rstrip("/"):
            data_mount = mount
            continue
        if mount.get("Type") == "volume":
            mounts.append(Mount(destination, mount["Name"], type="volume", read_only=True))
        elif mount.get("Type") == "bind":
            mounts.append(Mount(destination, mount["Source"], type="bind", read_only=True))
    if data_mount is None:
        raise ContainerRestoreRefused(_("The data directory %(path)s of the container %(container)s is not on a "
                                        "volume; the portal restores only a data directory on a volume (db-data).")
                                      % {"path": target, "container": name})
    config_path = settings.BACKUP_PGBACKREST_CONFIG or DEFAULT_CONFIG
    config = _read_file(source, config_path)
    options = _config_options(config.decode(errors="replace") if config else "", stanza)
    repo_type = (settings.BACKUP_PGBACKREST_REPO_TYPE if settings.BACKUP_PGBACKREST_REPO_TYPE == "s3"
                 else options.get("repo1-type", "posix"))
    if repo_type == "posix" or repo_type == "cifs":
        repo = settings.BACKUP_PGBACKREST_REPO_PATH or options.get("repo1-path") or DEFAULT_REPO
        repo_path = PurePosixPath(repo)
        if not any(repo_path == PurePosixPath(m["Target"]) or PurePosixPath(m["Target"]) in repo_path.parents
                   for m in mounts):
            raise ContainerRestoreRefused(_(
                "The pgBackRest repository %(repo)s is inside the container %(container)s's own file system, not on a "
                "volume or bind mount, so no other container can read it. Put the repository on a volume (or in S3) "
                "and take a new full backup.") % {"repo": repo, "container": name})
    host_ip, container_port = "127.0.0.1", "5432/tcp"
    for port_spec, bindings in sorted((attrs.get("HostConfig", {}).get("PortBindings") or {}).items()):
        container_port = port_spec
        if bindings:
            host_ip = bindings[0].get("HostIp", "") or ""
        break
    networks = list((attrs.get("NetworkSettings", {}).get("Networks") or {}).keys())
    network = next((n for n in networks if n not in ("host", "none")), None)
    config_attrs = attrs.get("Config", {})
    return SourcePlan(
        image=attrs["Image"], data_dir=target, container_port=container_port, host_ip=host_ip, network=network,
        command=list(config_attrs.get("Cmd") or []), entrypoint=config_attrs.get("Entrypoint"),
        environment=list(config_attrs.get("Env") or []),
        mounts=mounts, config_path=config_path, config=config,
    )


SECRET_OPTIONS = ("PGBACKREST_REPO1_CIPHER_PASS", "PGBACKREST_REPO1_S3_KEY", "PGBACKREST_REPO1_S3_KEY_SECRET")


def restored_environment(source_env: list[str], ours: dict[str, str]) -> list[str]:
    """The restored container's environment: the running container's, with the portal's pgBackRest options winning,
    except its secrets. The restored container (long-lived, `docker inspect` shows its environment) gets no secret
    the running one does not already have: its archive-get finds the passphrase where the running container's
    archive-push does (its pgbackrest.conf, copied in, or its own environment)."""
    public = {key: value for key, value in ours.items() if key not in SECRET_OPTIONS}
    kept = [entry for entry in source_env if entry.partition("=")[0] not in public]
    return [*kept, *(f"{key}={value}" for key, value in public.items())]


def _pgbackrest_environment(target: str) -> dict[str, str]:
    from backups.physical.config import pgbackrest_env

    env = {k: v for k, v in pgbackrest_env().items() if k.startswith("PGBACKREST_")}
    env["PGBACKREST_PG1_PATH"] = target
    return env


@dataclass
class RestoredContainer:
    """A PostgreSQL container the portal restored: its name, volume and published port."""

    name: str
    volume: str
    port: int
    container_id: str = ""
    helper: str = ""

    def connect(self, dbname: str = "postgres"):
        from backups.physical.config import database_settings

        db = {**database_settings(), "HOST": "127.0.0.1", "PORT": str(self.port)}
        return postgres.connect(db, dbname=dbname)

    def labels(self, *, purpose: str, restore_id: int) -> dict[str, str]:
        return {LABEL_PURPOSE: purpose, LABEL_OWNER: owner_label(), LABEL_RESTORE: str(restore_id)}

    def release(self) -> None:
        """The operator's now: the reaper keeps the container of a succeeded restore (it reads the RestoreRun)."""

    def remove(self) -> None:
        """Remove the helper, the container and the volume (whatever of them exists)."""
        import docker.errors

        with contextlib.suppress(Exception), docker_client() as client:
            for name in (self.helper, self.name):
                if name:
                    with contextlib.suppress(docker.errors.NotFound):
                        client.containers.get(name).remove(force=True, v=False)
            with contextlib.suppress(docker.errors.NotFound):
                client.volumes.get(self.volume).remove(force=True)


def check_free(client, name: str, port: int) -> None:
    """ContainerRestoreRefused if the name, its volume or the port is taken."""
    import docker.errors

    from backups.physical.cluster import port_is_free

    if not valid_name(name):
        raise ContainerRestoreRefused(_("%(name)s is not a valid container name (letters, digits, _ . -).")
                                      % {"name": name})
    if name == settings.BACKUP_PGBACKREST_CONTAINER:
        raise ContainerRestoreRefused(_("%(name)s is the running container; a restore over it is not offered: "
                                        "give a new container name.") % {"name": name})
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(name)
        raise ContainerRestoreRefused(_("A container named %(name)s exists already; give a new name.")
                                      % {"name": name})
    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(volume_name(name))
        raise ContainerRestoreRefused(_("A volume named %(volume)s exists already; give a new container name.")
                                      % {"volume": volume_name(name)})
    if not port or not port_is_free(port):
        raise ContainerRestoreRefused(_("Port %(port)s is not free; give a spare port for the restored container.")
                                      % {"port": port})


def restore_into_container(
    *, restored: RestoredContainer, plan: SourcePlan, options: list[str], purpose: str, restore_id: int,
    timeout: float, step,
) -> None:
    """Create the volume, run `pgbackrest restore` in a helper, start the new container, wait until promoted."""
    from docker.types import Mount

    labels = restored.labels(purpose=purpose, restore_id=restore_id)
    env = _pgbackrest_environment(plan.data_dir)
    user = settings.BACKUP_PGBACKREST_USER or "postgres"
    with docker_client() as client:
        client.volumes.create(restored.volume, labels=labels)
        data_mount = Mount(plan.data_dir, restored.volume, type="volume")
        restored.helper = f"{restored.name}-restore"
        helper = client.containers.create(
            plan.image, entrypoint=["pgbackrest"], command=["restore", *options], user=user, environment=env,
            mounts=[data_mount, *plan.mounts], network=plan.network, name=restored.helper,
            labels={**labels, LABEL_PURPOSE: "helper"},
        )
        try:
            if plan.config is not None:
                _put_file(helper, plan.config_path, plan.config)
            step(_("pgbackrest restore in the helper container %(helper)s onto the new volume %(volume)s")
                 % {"helper": restored.helper, "volume": restored.volume})
            helper.start()
            try:
                code = helper.wait(timeout=timeout)["StatusCode"]
            except Exception as exc:
                raise ContainerRestoreError(_("pgbackrest restore did not finish within %(seconds)s s: %(error)s")
                                            % {"seconds": int(timeout), "error": exc}) from None
            if code != 0:
                output = helper.logs(stdout=True, stderr=True).decode(errors="replace")
                raise describe_failure("restore", code, output)
        finally:
            with contextlib.suppress(Exception):
                helper.remove(force=True)
            restored.helper = ""
        step(_("starting the container %(name)s on port %(port)s: replaying WAL to the target")
             % {"name": restored.name, "port": restored.port})
        container = client.containers.create(
            plan.image, command=restore_command_line(plan.command), entrypoint=plan.entrypoint,
            environment=restored_environment(plan.environment, env), name=restored.name,
            mounts=[data_mount, *plan.mounts], network=plan.network, labels=labels,
            ports={plan.container_port: (plan.host_ip, restored.port)},
        )
        restored.container_id = container.id
        if plan.config is not None:
            _put_file(container, plan.config_path, plan.config)
        container.start()
        _wait_promoted(restored, container, timeout)


def _wait_promoted(restored: RestoredContainer, container, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with restored.connect() as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    return
        except postgres.ToolError:
            pass
        container.reload()
        if container.status in ("exited", "dead"):
            raise ContainerRestoreError(_("The restored container %(name)s stopped: %(log)s")
                                        % {"name": restored.name, "log": _log_tail(container)})
        if time.monotonic() > deadline:
            raise ContainerRestoreError(_("The restored container %(name)s was still recovering after %(seconds)s s: "
                                          "%(log)s") % {"name": restored.name, "seconds": int(timeout),
                                                        "log": _log_tail(container)})
        time.sleep(0.3)


def _log_tail(container, lines: int = 8) -> str:
    with contextlib.suppress(Exception):
        text = container.logs(stdout=True, stderr=True, tail=lines).decode(errors="replace")
        return scrub(" | ".join(text.strip().splitlines()))
    return ""


def restored_containers_reap() -> list[str]:
    """Remove the labelled containers and volumes of workers gone on this host; return their names.

    A succeeded restore's container and volume stay (the operator's now); a drill's, a helper's and those of a
    restore that did not succeed go, and that restore is failed as "worker lost".
    """
    if not settings.BACKUP_PGBACKREST_CONTAINER:
        return []
    import docker.errors

    from backups.models import RestoreRun
    from backups.physical.cluster import _fail_its_restore

    host = socket.gethostname()
    reaped: list[str] = []

    def lost(labels: dict) -> bool:
        owner_host, _sep, pid = (labels.get(LABEL_OWNER) or "").rpartition(":")
        if owner_host != host or not pid.isdigit() or pid_alive(int(pid)):
            return False
        restore_id = labels.get(LABEL_RESTORE) or ""
        kept = labels.get(LABEL_PURPOSE) == "restore" and restore_id.isdigit() and RestoreRun.objects.filter(
            pk=int(restore_id), status=RestoreRun.Status.SUCCEEDED).exists()
        return not kept

    try:
        with docker_client() as client:
            for container in client.containers.list(all=True, filters={"label": LABEL_OWNER}):
                if lost(container.labels):
                    with contextlib.suppress(docker.errors.NotFound):
                        container.remove(force=True)
                    reaped.append(container.name)
                    _fail_its_restore(_int(container.labels.get(LABEL_RESTORE)), container.name)
            for volume in client.volumes.list(filters={"label": LABEL_OWNER}):
                if lost(volume.attrs.get("Labels") or {}):
                    try:
                        volume.remove(force=True)
                    except docker.errors.NotFound:
                        pass
                    except docker.errors.APIError as exc:  # still in use: the next round
                        logger.warning("could not remove the restored volume %s yet: %s", volume.name, exc)
                        continue
                    reaped.append(volume.name)
                    _fail_its_restore(_int((volume.attrs.get("Labels") or {}).get(LABEL_RESTORE)), volume.name)
    except docker.errors.DockerException as exc:
        logger.warning("the reaper could not reach the Docker engine for restored containers: %s", exc)
    for name in reaped:
        logger.warning("removed %s, left by a lost worker's point-in-time restore", name)
    return reaped


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
