"""Docker volumes in BACKUP_DOCKER_VOLUMES, through the Docker engine at DOCKER_HOST.

Backup creates (never starts) a helper container that mounts the volume read-only and streams `get_archive()`.
Containers labelled `opsportal.backup.stop=true` that use the volume are stopped for the archive and always started
again, even when the archive fails. Restore empties the volume with a short-lived helper, then `put_archive()`.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Iterator
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

from backups.models import BackupArtifact
from backups.pipeline import IterReader, decoded
from backups.sources import register
from backups.sources.base import RestoreRefused, RestoreTarget, Source, SourceError, SourceStream
from backups.sources.docker_database import database_container_problem
from backups.sources.docker_holds import OWNER_LABEL, Hold, hold_remove, hold_write, owner_label
from backups.sources.tar_safety import checked_tar_stream, tar_problems
from backups.storage import backup_storage, open_stored
from opsportal.lib.lazy import lazy_module

docker = lazy_module("docker")  # imported on first use: ~170 ms of start-up otherwise
requests = lazy_module("requests")

STOP_LABEL = "opsportal.backup.stop"
HELPER_LABEL = "opsportal.backup.helper"
VOLUME_LABEL = "opsportal.backup.volume"
MOUNT = "/volume"


def docker_client() -> docker.DockerClient:
    try:
        client = docker.DockerClient(base_url=settings.BACKUP_DOCKER_HOST, timeout=120)
        client.ping()
    except docker.errors.DockerException as exc:
        raise SourceError(
            _("The Docker engine at %(host)s does not answer: %(error)s")
            % {"host": settings.BACKUP_DOCKER_HOST, "error": exc}
        ) from None
    return client


@contextlib.contextmanager
def labelled_containers_stopped(client: docker.DockerClient, volume: str, log) -> Iterator[list[str]]:
    """Stop running containers that use `volume` and carry the stop label; start them again whatever happens."""
    running = client.containers.list(filters={"volume": volume, "label": f"{STOP_LABEL}=true"})
    stopped = []
    holds: dict[str, Hold] = {}
    try:
        for container in running:
            policy = container.attrs["HostConfig"].get("RestartPolicy") or {}
            # Written down first (docker_holds.py): if this process dies before the `finally` below, the reaper or
            # the next worker start on this host puts the container and its policy back.
            holds[container.id] = Hold(container.id, container.name, volume,
                                       {**policy, "Name": policy.get("Name") or "no"})
            hold_write(holds[container.id])
            # Policy "always" starts a stopped container when the engine starts: if the engine dies before the
            # `finally` below can start it again, Docker itself does once the engine is back.
            container.update(restart_policy={"Name": "always"})
            container.stop(timeout=30)
            stopped.append(container)
            log(f"stopped container {container.name} for volume {volume}")
        yield [container.name for container in stopped]
    finally:
        failed: Exception | None = None
        for container in running:
            hold = holds.get(container.id)
            if hold is None:
                continue
            try:
                if container in stopped:
                    container.start()
                    log(f"started container {container.name} again")
                container.update(restart_policy=hold.restart_policy)
            except (docker.errors.DockerException, requests.RequestException) as exc:
                hold.released = True  # the reaper takes it over once the engine answers
                hold_write(hold)
                failed = failed or exc
            else:
                hold_remove(hold)
        if failed is not None and sys.exc_info()[1] is None:  # never replace the error already on its way
            raise failed


@contextlib.contextmanager
def helper_container(client: docker.DockerClient, volume: str, *, read_only: bool, command: list[str] | None = None):
    try:
        client.images.get(settings.BACKUP_DOCKER_IMAGE)
    except docker.errors.ImageNotFound:
        raise SourceError(
            _(
                "The helper image %(image)s is not present on the Docker engine (it is never pulled); "
                "see BACKUP_DOCKER_IMAGE."
            )
            % {"image": settings.BACKUP_DOCKER_IMAGE}
        ) from None
    container = client.containers.create(
        settings.BACKUP_DOCKER_IMAGE,
        command=command or ["true"],
        name=f"opsportal-backup-helper-{secrets.token_hex(4)}",
        volumes={volume: {"bind": MOUNT, "mode": "ro" if read_only else "rw"}},
        network_mode="none",
        # the volume label tells an operator what a leftover helper was for (and lets tests find their own)
        labels={HELPER_LABEL: "true", VOLUME_LABEL: volume, OWNER_LABEL: owner_label()},
    )
    try:
        yield container
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)


@register
class DockerVolumeSource(Source):
    kind = "docker-volume"

    @classmethod
    def configured(cls) -> list[Source]:
        return [cls(name) for name in settings.BACKUP_DOCKER_VOLUMES]

    def preflight(self) -> None:
        client = docker_client()
        try:
            client.volumes.get(self.name)
            labelled = client.containers.list(filters={"volume": self.name, "label": f"{STOP_LABEL}=true"})
            # before anything is stopped: never the PostgreSQL this portal is connected to (db-data)
            problem = database_container_problem(client, self.name, labelled, helper_container)
            if problem:
                raise SourceError(problem)
        except docker.errors.NotFound:
            raise SourceError(_("Docker volume %(name)s does not exist.") % {"name": self.name}) from None
        finally:
            client.close()

    def estimate_bytes(self) -> int | None:
        """The volume's size as the engine's `df` reports it (local volumes); None when the engine does not say."""
        client = docker_client()
        try:
            for volume in client.df().get("Volumes") or []:
                if volume.get("Name") == self.name:
                    size = (volume.get("UsageData") or {}).get("Size", -1)
                    return int(size) if size is not None and size >= 0 else None
        except (docker.errors.DockerException, requests.RequestException):
            return None
        finally:
            client.close()
        return None

    @contextlib.contextmanager
    def open(self) -> Iterator[SourceStream]:
        client = docker_client()
        log_lines: list[str] = []
        try:
            with (
                labelled_containers_stopped(client, self.name, log_lines.append) as stopped,
                helper_container(client, self.name, read_only=True) as helper,
            ):
                chunks, _stat = helper.get_archive(f"{MOUNT}/.", chunk_size=1 << 20)
                metadata = {"stopped_containers": stopped, "image": settings.BACKUP_DOCKER_IMAGE}
                yield SourceStream(reader=IterReader(iter(chunks)), format="tar", extension="tar", metadata=metadata)
        except docker.errors.DockerException as exc:
            raise SourceError(f"docker: {exc}") from None
        except requests.exceptions.ConnectionError as exc:  # the engine went away mid-stream
            raise SourceError(
                _("The Docker engine at %(host)s stopped answering: %(error)s")
                % {"host": settings.BACKUP_DOCKER_HOST, "error": exc}
            ) from None
        finally:
            client.close()

    @classmethod
    def check_restore(cls, artifact: BackupArtifact, target: RestoreTarget) -> None:
        if target.into:
            raise RestoreRefused(_("--into applies to databases only."))
        # Docker extracts inside the helper, not our host, but an entry may still land outside the volume's mount.
        with (
            open_stored(backup_storage(), artifact.path) as handle,
            decoded(handle, encrypted=artifact.encrypted, limit=artifact.raw_bytes) as reader,
        ):
            problems = tar_problems(reader)
        if problems:
            raise RestoreRefused(_("Refusing to restore a crafted archive: %(problem)s") % {"problem": problems[0]})
        try:
            docker_client().close()
        except SourceError as exc:
            raise RestoreRefused(str(exc)) from None

    @classmethod
    def has_something_to_protect(cls, artifact: BackupArtifact, target: RestoreTarget) -> bool:
        client = docker_client()
        try:
            client.volumes.get(artifact.name)
        except docker.errors.NotFound:
            return False  # a removed volume is simply created again
        finally:
            client.close()
        return True

    @classmethod
    def restore(cls, artifact: BackupArtifact, reader: BinaryIO, target: RestoreTarget) -> None:
        client = docker_client()
        try:
            client.volumes.create(artifact.name)  # no-op if it exists; recreates a volume that was removed
            with labelled_containers_stopped(client, artifact.name, target.log):
                # Empty it first, so files created after the backup do not survive the restore.
                with helper_container(
                    client,
                    artifact.name,
                    read_only=False,
                    command=["sh", "-c", f"find {MOUNT} -mindepth 1 -maxdepth 1 -exec rm -rf {{}} +"],
                ) as cleaner:
                    cleaner.start()
                    result = cleaner.wait(timeout=300)
                    if result.get("StatusCode") != 0:
                        raise SourceError(
                            _("Could not empty volume %(name)s before restoring.") % {"name": artifact.name}
                        )
                stripped: list[str] = []
                with helper_container(client, artifact.name, read_only=False) as helper:
                    if not helper.put_archive(MOUNT, checked_tar_stream(reader, stripped)):
                        raise SourceError(
                            _("Docker refused the archive for volume %(name)s.") % {"name": artifact.name}
                        )
            if stripped:
                target.log(
                    f"stripped setuid/setgid/sticky bits and file capabilities from {len(stripped)} entries "
                    f"of volume {artifact.name}: {', '.join(stripped[:10])}"
                )
            target.log(f"restored docker volume {artifact.name}")
        except docker.errors.DockerException as exc:
            raise SourceError(f"docker: {exc}") from None
        finally:
            client.close()
