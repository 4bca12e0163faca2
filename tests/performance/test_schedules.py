"""Beat schedules after migrate, routing to the monitoring queue, and probes run by a real Celery worker."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from opsportal.celery import app
from performance.models import PerfResult, PerfTarget
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_migrate_creates_the_default_schedules_and_targets():
    probe = PeriodicTask.objects.get(name="performance: probe targets")
    assert probe.task == "performance.tasks.probe_targets"
    assert probe.queue == "monitoring"
    assert probe.interval.every == 300
    assert PeriodicTask.objects.get(name="performance: hourly rollups and retention").interval.every == 3600
    assert PerfTarget.objects.filter(name__in=["portal: liveness API", "portal: admin index"]).count() == 2


@pytest.mark.parametrize("task", ["performance.tasks.probe_targets", "performance.tasks.rollup_and_prune"])
def test_performance_tasks_are_routed_to_the_monitoring_queue(task):
    assert app.amqp.router.route({}, task)["queue"].name == "monitoring"


def test_a_probe_is_routed_to_the_probes_queue_not_to_the_monitoring_queue():
    assert app.amqp.router.route({}, "performance.tasks.probe_target")["queue"].name == "probes"


@pytest.mark.browser
def test_a_worker_on_the_monitoring_and_probes_queues_probes_every_enabled_target(portal, celery_worker_process):
    from performance.tasks import probe_targets

    PerfTarget.objects.filter(name="portal: admin index").update(samples=1)
    PerfTarget.objects.create(name="disabled", url="/api/system/health/live", enabled=False)
    worker = celery_worker_process(queues="monitoring,probes", extra_env={"PERF_BASE_URL": portal.url})

    probe_targets.delay()

    def probed() -> bool:
        return {"portal: liveness API", "portal: admin index"} <= set(
            PerfResult.objects.values_list("target__name", flat=True)
        )

    try:
        wait_for(probed, timeout=90, what="results of both default targets")
    finally:
        if worker.poll() is not None:
            print(worker.stdout.read().decode())
    liveness = PerfResult.objects.filter(target__name="portal: liveness API")
    assert liveness.count() == 3 and {r.http_status for r in liveness} == {200}
    page = PerfResult.objects.get(target__name="portal: admin index")
    # No service user: the admin index redirects to the login page, which loads fine.
    assert page.outcome == "ok", page.error
    assert page.load_ms > 0
    assert not PerfResult.objects.filter(target__name="disabled").exists()
