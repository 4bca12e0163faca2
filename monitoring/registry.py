"""The registry of health checks and metric providers, filled by discovery.

Built-in checks live one per module in `monitoring/checks/`; any installed app may add its own in a `health.py`
module, using the `register` decorator for a HealthCheck subclass and `metric` for a function returning Samples.
Discovery runs once, lazily, the first time the registry is read.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import threading
from collections.abc import Callable, Iterable

from django.apps import apps
from django.conf import settings

from monitoring.checks.base import HealthCheck, Sample

MetricProvider = Callable[[], Iterable[Sample]]

_checks: dict[str, type[HealthCheck]] = {}
_metrics: dict[str, MetricProvider] = {}
_discovered_for: tuple[str, ...] | None = None
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


_provider_names: dict[str, frozenset[str]] = {}


def metric_names() -> set[str]:
    """The metric names this process knows are reported: what each installed `@metric` provider returns (asked once
    per process and provider), what check classes declare in `metric_names`, and what the latest snapshot holds
    (samples of checks that only report while they run)."""
    discover()
    names: set[str] = set()
    for key, provider in sorted(_metrics.items()):
        if not _installed(provider.__module__):
            continue
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


def _installed(module_name: str) -> bool:
    """Whether a check's module belongs to an installed app (an app removed from INSTALLED_APPS drops its checks)."""
    return module_name.startswith("monitoring.") or apps.get_containing_app_config(module_name) is not None


def discover() -> None:
    """Import every check module and every installed app's health.py; again only when INSTALLED_APPS changes."""
    global _discovered_for
    installed = tuple(app_config.name for app_config in apps.get_app_configs())
    with _lock:
        if _discovered_for == installed:
            return
        import monitoring.checks as package

        for module in pkgutil.iter_modules(package.__path__):
            if module.name != "base":
                importlib.import_module(f"{package.__name__}.{module.name}")
        for app_config in apps.get_app_configs():
            if importlib.util.find_spec(f"{app_config.name}.health") is not None:
                importlib.import_module(f"{app_config.name}.health")
        _discovered_for = installed


def check_classes() -> dict[str, type[HealthCheck]]:
    discover()
    return {name: check for name, check in _checks.items() if _installed(check.__module__)}


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
    return [provider for provider in _metrics.values() if _installed(provider.__module__)]
