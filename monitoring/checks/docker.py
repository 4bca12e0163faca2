"""The Docker engine on every host: reachable, each container's state, health and restart count.

Containers named in MONITOR_REQUIRED_CONTAINERS must exist, run and (when they define a healthcheck) be healthy.
"""

from __future__ import annotations

import threading
from collections import Counter

from django.conf import settings
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue
from monitoring.messages import Message
from monitoring.models import Status
from monitoring.registry import register
from opsportal.lib.lazy import lazy_module

docker = lazy_module("docker")  # imported on first use: ~170 ms of start-up otherwise

# The label backups/sources/docker_volumes.py stops containers by (a fact of the Docker set-up, not an import).
BACKUP_STOP_LABEL = "opsportal.backup.stop"

_clients: dict[tuple[str, int], docker.DockerClient] = {}
_clients_lock = threading.Lock()


def docker_client(url: str, *, timeout: int) -> docker.DockerClient:
    """One client per engine and process: creating one asks the engine for its API version, a round trip."""
    key = (url, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = docker.DockerClient(base_url=url, timeout=timeout)
            _clients[key] = client
        return client


def forget_client(url: str, timeout: int) -> None:
    with _clients_lock:
        client = _clients.pop((url, timeout), None)
    if client is not None:
        client.close()


@register
class DockerCheck(HealthCheck):
    name = "docker"
    per_host = True
    # One list plus one inspect per container: with many containers and a load balancer polling every second,
    # asking the engine at most every few seconds per process keeps the health endpoint from loading dockerd.
    cache_for = 5.0

    def cache_key(self) -> str:
        return f"docker|{settings.MONITOR_DOCKER_URL}|{','.join(settings.MONITOR_REQUIRED_CONTAINERS)}"

    @classmethod
    def instances(cls) -> list[HealthCheck]:
        return [cls()] if settings.MONITOR_DOCKER_URL else []

    def run(self) -> CheckOutcome:
        url = settings.MONITOR_DOCKER_URL
        timeout = max(1, int(self.timeout))
        try:
            client = docker_client(url, timeout=timeout)
            containers = []
            for item in client.api.containers(all=True):
                try:
                    containers.append(client.api.inspect_container(item["Id"]))
                except docker.errors.NotFound:
                    continue  # removed between the list and the inspect: not a problem of the engine
        except Exception as exc:  # requests' and docker's errors alike mean "engine unreachable"
            forget_client(url, timeout)  # reconnect (and re-negotiate the API version) next time
            return self.failure(
                Message(_("Docker engine at %(url)s unreachable: %(error)s"), {"url": url, "error": type(exc).__name__})
            )

        by_name = {}
        states: Counter[str] = Counter()
        samples: list[MetricValue] = []
        for container in containers:
            name = container["Name"].lstrip("/")
            state = container["State"]
            health = (state.get("Health") or {}).get("Status", "")
            restarts = int(container.get("RestartCount", 0))
            labels = (container.get("Config") or {}).get("Labels") or {}
            by_name[name] = {"state": state.get("Status", ""), "health": health, "restart_count": restarts,
                             "backup_stop": labels.get(BACKUP_STOP_LABEL) == "true"}
            states[state.get("Status", "unknown")] += 1
            samples.append(MetricValue("docker_container_restarts", restarts, {"container": name},
                                  "Restarts of a container."))
        # "running" is always present (0 included) so a graph of running containers has no gaps.
        for state, count in sorted({"running": 0, **states}.items()):
            samples.append(MetricValue("docker_containers", count, {"state": state}, "Containers by state."))

        problems: list[tuple[Status, Message]] = []
        for required in settings.MONITOR_REQUIRED_CONTAINERS:
            info = by_name.get(required)
            if info is None:
                problems.append((Status.CRITICAL, Message(_("required container %(name)s is missing"),
                                                          {"name": required})))
            elif info["state"] != "running":
                problems.append((Status.CRITICAL, Message(_("required container %(name)s is %(state)s"),
                                                        {"name": required, "state": info["state"]})))
            elif info["health"] not in ("", "healthy"):
                problems.append((Status.CRITICAL, Message(_("required container %(name)s is %(health)s"),
                                                        {"name": required, "health": info["health"]})))
        for name, info in sorted(by_name.items()):
            if name in settings.MONITOR_REQUIRED_CONTAINERS:
                continue
            if info["health"] == "unhealthy" or info["state"] == "restarting":
                problems.append((Status.WARNING, Message(_("container %(name)s is %(what)s"),
                                                       {"name": name, "what": info["health"] or info["state"]})))
            elif info["backup_stop"] and info["state"] != "running":
                # a container the backups stop and start again is an application: down is not "fine"
                problems.append((Status.WARNING, Message(_("container %(name)s (labelled %(label)s) is %(state)s"),
                                                       {"name": name, "label": f"{BACKUP_STOP_LABEL}=true",
                                                        "state": info["state"]})))
        values = {"engine": url, "containers": by_name, "by_state": dict(states)}
        if not problems:
            return self.ok(Message(_("%(count)d containers, %(running)d running"),
                                   {"count": len(by_name), "running": states.get("running", 0)}), values, samples)
        status = Status.CRITICAL if any(level == Status.CRITICAL for level, _m in problems) else Status.WARNING
        return self.result(status, Message.join([message for _level, message in problems]), values, samples)
