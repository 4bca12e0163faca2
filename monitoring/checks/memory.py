"""Memory in use on every host (psutil), against MONITOR_MEMORY_WARNING / MONITOR_MEMORY_CRITICAL percent."""

from __future__ import annotations

import psutil
from django.conf import settings
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue, threshold_status
from monitoring.messages import Message
from monitoring.registry import register


@register
class MemoryCheck(HealthCheck):
    name = "memory"
    per_host = True
    inline = True  # /proc only

    def run(self) -> CheckOutcome:
        memory = psutil.virtual_memory()
        values = {"used_percent": memory.percent, "available_bytes": memory.available, "total_bytes": memory.total}
        samples = [
            MetricValue("memory_used_percent", memory.percent, {}, "Memory in use."),
            MetricValue("memory_available_bytes", memory.available, {}, "Memory available without swapping."),
        ]
        status = threshold_status(memory.percent, warning=settings.MONITOR_MEMORY_WARNING,
                                  critical=settings.MONITOR_MEMORY_CRITICAL)
        message = Message(_("%(percent).0f%% of %(total).1f GiB in use"), {"percent": memory.percent,
                                                                           "total": memory.total / 2**30})
        return self.result(status, message, values, samples)
