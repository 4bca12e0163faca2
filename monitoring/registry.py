"""The registry of health checks and metric providers, filled by discovery.

Built-in checks live one per module in `monitoring/checks/`; any installed app may add its own in a `health.py`
module, using the `register` decorator for a HealthCheck subclass and `metric` for a function returning MetricValues.
Both are `opsportal.lib.registry.Registry` objects (CHECKS, METRICS); discovery runs lazily, the first time the
registry is read, and again when INSTALLED_APPS changes.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable, Iterable

from django.conf import settings

from monitoring.checks.base import HealthCheck, MetricValue
from opsportal.lib.registry import Registry, autodiscover

MetricProvider = Callable[[], Iterable[MetricValue]]

CHECKS: Registry[type[HealthCheck]] = Registry("health check", name_of=lambda check_class: check_class.name)
METRICS: Registry[MetricProvider] = Registry("metric provider")


def register(check_class: type[HealthCheck]) -> type[HealthCheck]:
    """Class decorator: make a HealthCheck subclass part of every health run."""
    if not check_class.name:
        raise ValueError(f"{check_class.__qualname__} needs a name")
    return CHECKS.register(check_class)


def metric(provider: MetricProvider) -> MetricProvider:
    """Function decorator: the function returns MetricValues that /api/system/metrics and snapshots include."""
    return METRICS.register(provider)


_provider_names: dict[str, frozenset[str]] = {}


def metric_names() -> set[str]:
    """The metric names this process knows are reported: what each installed `@metric` provider returns (asked once
    per process and provider), what check classes declare in `metric_names`, and what the latest snapshot holds
    (samples of checks that only report while they run)."""
    discover()
    names: set[str] = set()
    for key, provider in sorted(METRICS.items()):
        if key not in _provider_names:
            try:
                _provider_names[key] = frozenset(sample.name for sample in provider())
            except Exception:  # a provider that fails now may answer later: ask again next time
                logging.getLogger(__name__).warning("metric provider %s failed while listing its metrics", key,
                                                    exc_info=True)
                continue
        names |= _provider_names[key]
    for check_class in check_classes().values():
        names.update(getattr(check_class, "metric_names", ()))
    from monitoring.models import HealthSnapshot

    latest = HealthSnapshot.objects.order_by("-taken_at").values_list("pk", flat=True).first()
    if latest is not None:
        names.update(HealthSnapshot.objects.get(pk=latest).samples.values_list("name", flat=True).distinct())
    return names


_built_in_imported = False


def discover() -> None:
    """Import every built-in check module (once) and every installed app's health.py."""
    global _built_in_imported
    if not _built_in_imported:
        import monitoring.checks as package

        for module in pkgutil.iter_modules(package.__path__):
            if module.name != "base":
                importlib.import_module(f"{package.__name__}.{module.name}")
        _built_in_imported = True
    autodiscover("health")


def check_classes() -> dict[str, type[HealthCheck]]:
    discover()
    return CHECKS.as_dict()


def checks(*, names: Iterable[str] | None = None, per_host: bool | None = None) -> list[HealthCheck]:
    """Check instances under the current settings, minus MONITOR_DISABLED_CHECKS; filtered by name or kind."""
    disabled = set(settings.MONITOR_DISABLED_CHECKS)
    wanted = set(names) if names is not None else None
    found: list[HealthCheck] = []
    for name, check_class in sorted(check_classes().items()):
        if name in disabled or (per_host is not None and check_class.per_host != per_host):
            continue
        for check in check_class.instances():
            # "redis" selects every Redis check, "redis:cache" only that one; either can be disabled.
            if check.name in disabled:
                continue
            if wanted is None or name in wanted or check.name in wanted:
                found.append(check)
    return found


def check_names() -> list[str]:
    """Every name `checks(names=...)` selects something with under the current settings: classes and instances."""
    names: set[str] = set()
    for check in checks():
        names.update((check.name, type(check).name))
    return sorted(names)


def metric_providers() -> list[MetricProvider]:
    discover()
    return METRICS.values()
