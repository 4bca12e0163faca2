"""A task routed to one queue reaches that queue only (the real Redis broker): with both queues bound to one
exchange under one key, every message landed in both, so a monitoring worker also took backups and the reverse."""

from __future__ import annotations

import pytest

from opsportal.celery import BACKUPS_QUEUE, MONITORING_QUEUE, PROBES_QUEUE, app


@pytest.fixture
def broker():
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for name in (BACKUPS_QUEUE, MONITORING_QUEUE):
            app.amqp.queues[name].bind(channel).declare()
            channel.queue_purge(name)
        yield channel
        for name in (BACKUPS_QUEUE, MONITORING_QUEUE):
            channel.queue_purge(name)


def _waiting(channel, name: str) -> int:
    return channel.client.llen(name)


@pytest.mark.parametrize(("task", "queue", "other"), [
    ("backups.tasks.reap_stale_runs", BACKUPS_QUEUE, MONITORING_QUEUE),
    ("monitoring.tasks.take_snapshot", MONITORING_QUEUE, BACKUPS_QUEUE),
])
def test_a_task_lands_in_its_own_queue_only(broker, task, queue, other):
    app.send_task(task)
    assert (_waiting(broker, queue), _waiting(broker, other)) == (1, 0)


def test_each_queue_has_its_own_exchange_and_key():
    bindings = {name: (q.exchange.name, q.routing_key) for name, q in app.amqp.queues.items()}
    assert bindings == {name: (name, name) for name in (BACKUPS_QUEUE, MONITORING_QUEUE, PROBES_QUEUE)}
