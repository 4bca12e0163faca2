"""The one file a module needs to add a health check and a metric to OpsPortal (see docs/guides/monitoring.md)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue
from monitoring.messages import Message
from monitoring.registry import metric, register


def _backlog() -> int:
    # A real module would count its own rows here; the tests set this setting.
    return int(getattr(settings, "DEMO_ORDER_BACKLOG", 0))


@register
class OrderBacklogCheck(HealthCheck):
    name = "demo-orders"
    critical = False  # a backlog is worth a warning, never a 503

    def run(self) -> CheckOutcome:
        backlog = _backlog()
        values = {"backlog": backlog}
        message = Message(_("%(count)d orders waiting"), {"count": backlog})  # read in each reader's language
        if backlog > 100:
            return self.warning(message, values)
        return self.ok(message, values)


@metric
def order_metrics() -> list[MetricValue]:
    return [MetricValue("demo_order_backlog", _backlog(), {"module": "demo"}, "Orders waiting to be shipped.")]
