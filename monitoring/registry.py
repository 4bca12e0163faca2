"""The registry of health checks and metric providers, filled by discovery.

Built-in checks live one per module in `monitoring/checks/`; any installed app may add its own in a `health.py`
module, using the `register` decorator for a HealthCheck subclass and `metric` for a function returning Samples.
Discovery runs once, lazily, the first time the registry is read.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import threading
from collections.abc import Callable, Iterable

from django.apps import apps
from django.conf import settings

from monitoring.checks.base import HealthCheck, Sample

MetricProvider = Callable[[], Iterable[Sample]]

_checks: dict[str, type[HealthCheck]] = {}
_metrics: dict[str, MetricProvider] = {}
_discovered = False
_lock = threading.Lock()


def register(check_class: type[HealthCheck]) -> type[HealthCheck]:
    """Class decorator: make a HealthCheck subclass part of every health run."""
    if not check_class.name:
        raise ValueError(f"{check_class.__qualname__} needs a name")
    _checks[check_class.name] = check_class
    return check_class


def metric(provider: MetricProvider) -> MetricProvider:
    """Function decorator: the function returns Samples that /api/system/metrics and snapshots include."""
    _metrics[f"{provider.__module__}.{provider.__qualname__}"] = provider
    return provider


def discover() -> None:
    global _discovered
    with _lock:
        if _discovered:
            return
        import monitoring.checks as package

        for module in pkgutil.iter_modules(package.__path__):
            if module.name != "base":
                importlib.import_module(f"{package.__name__}.{module.name}")
        for app_config in apps.get_app_configs():
            if importlib.util.find_spec(f"{app_config.name}.health") is not None:
                importlib.import_module(f"{app_config.name}.health")
        _discovered = True


def check_classes() -> dict[str, type[HealthCheck]]:
    discover()
    return dict(_checks)


def checks(*, names: Iterable[str] | None = None, per_host: bool | None = None) -> list[HealthCheck]:
    """Check instances under the current settings, minus MONITOR_DISABLED_CHECKS; filtered by name or kind."""
    disabled = set(settings.MONITOR_DISABLED_CHECKS)
    wanted = set(names) if names is not None else None
    found: list[HealthCheck] = []
    for name, check_class in sorted(check_classes().items()):
        if name in disabled or (wanted is not None and name not in wanted):
            continue
        if per_host is not None and check_class.per_host != per_host:
            continue
        found.extend(check_class.instances())
    return found


def metric_providers() -> list[MetricProvider]:
    discover()
    return list(_metrics.values())
