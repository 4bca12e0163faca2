"""The docker check against the real engine: containers' state and health; required containers; a missing socket."""

from __future__ import annotations

import contextlib
import secrets
import time

import docker
import pytest

from monitoring.checks.docker import DockerCheck
from monitoring.models import Status
from monitoring.runner import clear_cached_results
from tests.monitoring.test_checks import run_one

IMAGE = "opsportal/busybox:local"


@pytest.fixture
def docker_client():
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    created = []

    def run(*, healthcheck: dict | None = None, command: str = "sleep 300", labels: dict | None = None):
        name = f"monitoring-test-{secrets.token_hex(4)}"
        container = client.containers.run(IMAGE, command, name=name, detach=True, healthcheck=healthcheck,
                                          labels=labels or {})
        created.append(container)
        return container

    yield run
    for container in created:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    client.close()


@pytest.mark.django_db
def test_engine_reachable_lists_containers_with_state(docker_client):
    container = docker_client()
    result = run_one("docker")
    assert result.status == Status.OK, result.message
    assert result.values["containers"][container.name]["state"] == "running"
    assert result.values["by_state"]["running"] >= 1


@pytest.mark.django_db
def test_required_container_missing_or_stopped_is_critical(settings, docker_client):
    container = docker_client()
    settings.MONITOR_REQUIRED_CONTAINERS = [container.name]
    assert run_one("docker").status == Status.OK
    container.stop(timeout=0)
    clear_cached_results()  # an OK answer is reused for cache_for seconds
    stopped = run_one("docker")
    assert stopped.status == Status.CRITICAL
    assert container.name in stopped.message and "exited" in stopped.message
    settings.MONITOR_REQUIRED_CONTAINERS = ["monitoring-test-never-created"]
    assert "missing" in run_one("docker").message


@pytest.mark.django_db
def test_an_unhealthy_container_is_reported(settings, docker_client):
    container = docker_client(healthcheck={"test": ["CMD", "false"], "interval": 200_000_000, "retries": 1,
                                           "timeout": 1_000_000_000})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        container.reload()
        if container.attrs["State"].get("Health", {}).get("Status") == "unhealthy":
            break
        time.sleep(0.2)
    result = run_one("docker")
    assert result.status == Status.WARNING
    assert result.values["containers"][container.name]["health"] == "unhealthy"
    settings.MONITOR_REQUIRED_CONTAINERS = [container.name]
    assert run_one("docker").status == Status.CRITICAL


@pytest.mark.django_db
def test_a_container_the_backups_stop_that_is_not_running_is_a_warning(docker_client):
    app = docker_client(labels={"opsportal.backup.stop": "true"})
    other = docker_client()
    assert run_one("docker").status == Status.OK
    other.stop(timeout=0)  # an unlabelled container may be stopped on purpose
    clear_cached_results()
    assert run_one("docker").status == Status.OK
    app.stop(timeout=0)  # as a backup killed mid-archive leaves it
    clear_cached_results()
    result = run_one("docker")
    assert result.status == Status.WARNING
    assert app.name in result.message and "opsportal.backup.stop=true" in result.message and "exited" in result.message


@pytest.mark.faults
@pytest.mark.django_db
def test_a_docker_socket_that_does_not_exist_is_critical_within_the_deadline(settings, tmp_path):
    settings.MONITOR_DOCKER_URL = f"unix://{tmp_path}/gone.sock"
    started = time.monotonic()
    result = run_one("docker")
    assert result.status == Status.CRITICAL
    assert "unreachable" in result.message
    assert time.monotonic() - started < settings.HEALTH_DEADLINE.total_seconds()


@pytest.mark.django_db
def test_an_empty_docker_url_switches_the_check_off(settings):
    settings.MONITOR_DOCKER_URL = ""
    from monitoring.runner import health_report_collect

    assert "docker" not in {result.name for result in health_report_collect(hosts=False).results}


@pytest.mark.django_db
def test_an_ok_answer_is_reused_for_a_few_seconds_but_not_across_engines(settings, docker_client, tmp_path):
    container = docker_client()
    assert container.name in run_one("docker").values["containers"]
    container.remove(force=True)
    assert DockerCheck.cache_for == 5.0
    assert container.name in run_one("docker").values["containers"]  # within cache_for: the kept answer
    settings.MONITOR_DOCKER_URL = f"unix://{tmp_path}/other.sock"
    assert run_one("docker").status == Status.CRITICAL  # another engine is asked, not answered from the cache
