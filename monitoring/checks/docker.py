"""The Docker engine on every host: reachable, each container's state, health and restart count.

Containers named in MONITOR_REQUIRED_CONTAINERS must exist, run and (when they define a healthcheck) be healthy.
"""

from __future__ import annotations

from collections import Counter

import docker
from django.conf import settings
from django.utils.translation import gettext as _

from monitoring.checks.base import CheckResult, HealthCheck, Sample
from monitoring.models import Status
from monitoring.registry import register


@register
class DockerCheck(HealthCheck):
    name = "docker"
    per_host = True

    @classmethod
    def instances(cls) -> list[HealthCheck]:
        return [cls()] if settings.MONITOR_DOCKER_URL else []

    def run(self) -> CheckResult:
        url = settings.MONITOR_DOCKER_URL
        try:
            client = docker.DockerClient(base_url=url, timeout=max(1, int(self.timeout)))
        except docker.errors.DockerException as exc:
            return self.failure(_("Docker engine at %(url)s unreachable: %(error)s") % {"url": url, "error": exc})
        try:
            try:
                client.ping()
                raw = client.api.containers(all=True)
                containers = [client.api.inspect_container(item["Id"]) for item in raw]
            except Exception as exc:  # requests' and docker's errors alike mean "engine unreachable"
                return self.failure(
                    _("Docker engine at %(url)s unreachable: %(error)s") % {"url": url, "error": type(exc).__name__}
                )
        finally:
            client.close()

        by_name = {}
        states: Counter[str] = Counter()
        samples: list[Sample] = []
        for container in containers:
            name = container["Name"].lstrip("/")
            state = container["State"]
            health = (state.get("Health") or {}).get("Status", "")
            restarts = int(container.get("RestartCount", 0))
            by_name[name] = {"state": state.get("Status", ""), "health": health, "restart_count": restarts}
            states[state.get("Status", "unknown")] += 1
            samples.append(Sample("docker_container_restarts", restarts, {"container": name},
                                  "Restarts of a container."))
        # "running" is always present (0 included) so a graph of running containers has no gaps.
        for state, count in sorted({"running": 0, **states}.items()):
            samples.append(Sample("docker_containers", count, {"state": state}, "Containers by state."))

        problems: list[tuple[Status, str]] = []
        for required in settings.MONITOR_REQUIRED_CONTAINERS:
            info = by_name.get(required)
            if info is None:
                problems.append((Status.CRITICAL, _("required container %(name)s is missing") % {"name": required}))
            elif info["state"] != "running":
                problems.append((Status.CRITICAL, _("required container %(name)s is %(state)s")
                                 % {"name": required, "state": info["state"]}))
            elif info["health"] not in ("", "healthy"):
                problems.append((Status.CRITICAL, _("required container %(name)s is %(health)s")
                                 % {"name": required, "health": info["health"]}))
        for name, info in sorted(by_name.items()):
            if name not in settings.MONITOR_REQUIRED_CONTAINERS and (
                info["health"] == "unhealthy" or info["state"] == "restarting"
            ):
                problems.append((Status.WARNING, _("container %(name)s is %(what)s")
                                 % {"name": name, "what": info["health"] or info["state"]}))
        values = {"engine": url, "containers": by_name, "by_state": dict(states)}
        if not problems:
            return self.ok(_("%(count)d containers, %(running)d running")
                           % {"count": len(by_name), "running": states.get("running", 0)}, values, samples)
        status = Status.CRITICAL if any(level == Status.CRITICAL for level, _m in problems) else Status.WARNING
        return self.result(status, "; ".join(message for _level, message in problems), values, samples)
