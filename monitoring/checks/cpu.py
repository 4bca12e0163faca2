"""CPU and load on every host (psutil): load average per core against MONITOR_LOAD_WARNING / _CRITICAL."""

from __future__ import annotations

import psutil
from django.conf import settings
from django.utils.translation import gettext as _

from monitoring.checks.base import CheckResult, HealthCheck, Sample, threshold_status
from monitoring.registry import register


@register
class CpuCheck(HealthCheck):
    name = "cpu"
    per_host = True

    def run(self) -> CheckResult:
        cores = psutil.cpu_count() or 1
        load1, load5, load15 = psutil.getloadavg()
        # Non-blocking: the share since the previous call in this process (the first call in a process says 0).
        percent = psutil.cpu_percent(interval=None)
        per_core = load5 / cores
        values = {"cores": cores, "load1": load1, "load5": load5, "load15": load15,
                  "load5_per_core": round(per_core, 2), "cpu_percent": percent}
        samples = [
            Sample("cpu_percent", percent, {}, "CPU in use since the previous measurement."),
            Sample("load_average", load1, {"period": "1m"}, "Load average."),
            Sample("load_average", load5, {"period": "5m"}, "Load average."),
            Sample("load_average", load15, {"period": "15m"}, "Load average."),
            Sample("cpu_cores", cores, {}, "Logical CPU cores."),
        ]
        status = threshold_status(per_core, warning=settings.MONITOR_LOAD_WARNING,
                                  critical=settings.MONITOR_LOAD_CRITICAL)
        message = _("load %(load).2f per core over 5 min (%(cores)d cores)") % {"load": per_core, "cores": cores}
        return self.result(status, message, values, samples)
