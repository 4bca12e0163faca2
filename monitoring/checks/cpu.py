"""CPU and load on every host (psutil): load average per core against MONITOR_LOAD_WARNING / _CRITICAL."""

from __future__ import annotations

import os
import threading
import time

import psutil
from django.conf import settings
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue, threshold_status
from monitoring.messages import Message
from monitoring.registry import register

# psutil.cpu_percent(interval=None) answers 0.0 on its first call in a process (and for two calls in the same clock
# tick), which a fresh `manage.py monitor` always is: a false "idle" on a busy machine. So this module keeps its own
# previous reading of the CPU times: the first call in a process samples over FIRST_SAMPLE_SECONDS, later calls measure
# since the previous one, and a call sooner than MIN_WINDOW_SECONDS after it repeats the previous percentage.
FIRST_SAMPLE_SECONDS = 0.25
MIN_WINDOW_SECONDS = 0.5


def _busy_and_total(times) -> tuple[float, float]:
    total = sum(times)
    # On Linux guest time is already counted in user time (as psutil itself does).
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


class CpuUsage:
    """Share of the CPU in use (0-100, all cores) since the previous reading in this process, never a blind 0."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.previous: tuple[float, float] | None = None  # (busy, total) CPU seconds
        self.previous_at = 0.0
        self.percent: float | None = None

    def read(self) -> float:
        with self.lock:
            if self.previous is None:
                self.previous, self.previous_at = _busy_and_total(psutil.cpu_times()), time.monotonic()
                time.sleep(FIRST_SAMPLE_SECONDS)
            elif self.percent is not None and time.monotonic() - self.previous_at < MIN_WINDOW_SECONDS:
                return self.percent
            busy, total = _busy_and_total(psutil.cpu_times())
            busy_delta, total_delta = busy - self.previous[0], total - self.previous[1]
            if total_delta <= 0:  # no clock tick passed: keep the previous reading and baseline
                return self.percent if self.percent is not None else 0.0
            self.percent = round(min(100.0, max(0.0, 100.0 * busy_delta / total_delta)), 1)
            self.previous, self.previous_at = (busy, total), time.monotonic()
            return self.percent


cpu_usage = CpuUsage()

# The number of cores online changes only when CPUs are hot-plugged, yet reading it (glibc reads
# /sys/devices/system/cpu/online on every call) cost more than the load average: read at most every CORES_REFRESH s.
CORES_REFRESH = 60.0
_cores: tuple[float, int] = (-CORES_REFRESH, 1)


def cores_online() -> int:
    global _cores
    now = time.monotonic()
    if now - _cores[0] >= CORES_REFRESH:
        _cores = (now, psutil.cpu_count() or 1)
    return _cores[1]


def _new_lock_after_fork() -> None:
    # A child forked while another thread held the lock would wait on it forever; the reading itself stays valid.
    cpu_usage.lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


@register
class CpuCheck(HealthCheck):
    name = "cpu"
    per_host = True
    inline = True  # /proc only

    def run(self) -> CheckOutcome:
        cores = cores_online()
        load1, load5, load15 = psutil.getloadavg()
        percent = cpu_usage.read()
        per_core = load5 / cores
        values = {"cores": cores, "load1": load1, "load5": load5, "load15": load15,
                  "load5_per_core": round(per_core, 2), "cpu_percent": percent}
        samples = [
            MetricValue("cpu_percent", percent, {},
                        "CPU in use since the previous measurement (at least a short sample)."),
            MetricValue("load_average", load1, {"period": "1m"}, "Load average."),
            MetricValue("load_average", load5, {"period": "5m"}, "Load average."),
            MetricValue("load_average", load15, {"period": "15m"}, "Load average."),
            MetricValue("cpu_cores", cores, {}, "Logical CPU cores."),
        ]
        status = threshold_status(per_core, warning=settings.MONITOR_LOAD_WARNING,
                                  critical=settings.MONITOR_LOAD_CRITICAL)
        message = Message(_("load %(load).2f per core over 5 min (%(cores)d cores)"),
                          {"load": per_core, "cores": cores})
        return self.result(status, message, values, samples)
