"""Used space of each path in MONITOR_DISK_PATHS (default / and BACKUP_DIR), on every host."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
from django.conf import settings
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue, threshold_status, worst
from monitoring.messages import Message
from monitoring.registry import register


def existing_ancestor(path: Path) -> Path:
    """A folder not created yet (BACKUP_DIR before the first backup) lives on the filesystem of its parent."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


@register
class DiskCheck(HealthCheck):
    name = "disk"
    per_host = True

    def run(self) -> CheckOutcome:
        warning, critical = settings.MONITOR_DISK_WARNING, settings.MONITOR_DISK_CRITICAL
        values: dict = {}
        samples: list[MetricValue] = []
        statuses = []
        notes = []
        for raw in settings.MONITOR_DISK_PATHS:
            path = str(raw)
            usage = psutil.disk_usage(str(existing_ancestor(Path(os.path.abspath(path)))))
            status = threshold_status(usage.percent, warning=warning, critical=critical)
            statuses.append(status)
            values[path] = {"used_percent": usage.percent, "free_bytes": usage.free, "total_bytes": usage.total}
            samples += [
                MetricValue("disk_used_percent", usage.percent, {"path": path}, "Used space of the filesystem."),
                MetricValue("disk_free_bytes", usage.free, {"path": path}, "Free space of the filesystem."),
            ]
            notes.append(Message(_("%(path)s %(percent).0f%% used"), {"path": path, "percent": usage.percent}))
        return self.result(worst(statuses), Message.join(notes), values, samples)
