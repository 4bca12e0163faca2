"""The module's observations for alert rules, found by discovery (alerting imports each installed app's alerting.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.utils.translation import gettext_lazy as _

from alerting.observations import Observation, declare_metric, register_provider

METRIC_WAITING = "demo_shipments_waiting"

declare_metric(METRIC_WAITING, _("Shipments not shipped yet (labels: module)"))


def waiting_shipments(now: datetime) -> Iterator[Observation]:
    from tests.demo_module.models import Shipment

    waiting = Shipment.objects.filter(shipped=False).count()
    yield Observation(kind="metric", name=METRIC_WAITING, labels={"module": "demo"}, value=float(waiting),
                      status=None, at=now)


register_provider(waiting_shipments, metrics=[METRIC_WAITING])
