"""What the evaluator looks at: observations from providers, and the names of metrics and events rules may use.

Providers are functions `provider(now) -> Iterable[Observation]` registered with `register_provider` in PROVIDERS (an
`opsportal.lib.registry.Registry`), from the `alerting.py` module of any installed app, which discovery imports (the
performance app's is one); the monitoring app registers one that reads its latest snapshot. Metric and event names
are declared here so that the rule form can refuse a rule watching something nobody ever reports (a typo would
otherwise never fire).

This module is alerting's public contract for the other apps and for modules: the names in `__all__`. Nobody
outside alerting imports its models or its private names (tests/opsportal/test_app_seams.py holds every app to it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from django.utils.translation import gettext_lazy as _

from opsportal.lib.registry import Registry, autodiscover

logger = logging.getLogger(__name__)

__all__ = [
    "EVENT_BACKUP_FAILED", "EVENT_BUDGET_BREACHED", "METRIC_BACKUP_AGE", "METRIC_BUDGET_BREACHED", "METRIC_CPU",
    "METRIC_DISK_USED", "METRIC_MEMORY_USED", "METRIC_ROUTE_OVER_BUDGET", "Observation", "ObservationKind",
    "ObservationsUnavailable", "Provider", "collect", "collect_reporting_failures", "declare_event", "declare_metric",
    "known_events", "known_metrics", "register_metric_name_source", "register_provider", "unregister_provider",
]

ObservationKind = Literal["metric", "check"]
Provider = Callable[[datetime], Iterable["Observation"]]


@dataclass(frozen=True)
class Observation:
    """One metric value or one check outcome, at one moment, for one label set (host, path, container, ...)."""

    kind: ObservationKind
    name: str
    labels: dict[str, str]
    value: float | None
    status: str | None  # "ok", "warning" or "critical" for checks
    at: datetime
    message: str = ""


PROVIDERS: Registry[Provider] = Registry("alert observation provider")
METRIC_NAME_SOURCES: Registry[Callable[[], Iterable[str]]] = Registry("metric name source")


@dataclass
class _Registry:
    metrics: dict[str, str] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)


_registry = _Registry()

# The contract with the monitoring and backups apps (the lead wires their providers): the metric names the default
# rules watch. Declared here so the defaults are valid before any provider is registered.
METRIC_DISK_USED = "disk_used_percent"
METRIC_MEMORY_USED = "memory_used_percent"
METRIC_CPU = "cpu_percent"
METRIC_BACKUP_AGE = "backup_last_success_age_seconds"
METRIC_BUDGET_BREACHED = "perf_target_breached"
METRIC_ROUTE_OVER_BUDGET = "request_route_over_budget"
EVENT_BACKUP_FAILED = "backup_failed"
EVENT_BUDGET_BREACHED = "performance_budget_breached"


def declare_metric(name: str, description: str = "") -> None:
    """Make `name` a metric rules may watch; providers call this for every metric they report."""
    _registry.metrics.setdefault(name, str(description))


def declare_event(name: str, description: str = "") -> None:
    """Make `name` an event rules may watch (see alerting.services.alert_event_record)."""
    _registry.events.setdefault(name, str(description))


def known_metrics() -> dict[str, str]:
    """Every metric name a rule may watch: the declared ones and those the registered sources know of.

    A source (monitoring's: the metrics its checks and the installed modules' providers report) is asked on every
    call, so a process that never evaluates (the admin's web worker) knows a module's metrics from start-up.
    """
    _discover()
    names = dict(_registry.metrics)
    for source in METRIC_NAME_SOURCES:
        try:
            for name in source():
                names.setdefault(name, "")
        except Exception:  # a failing source must not make every rule invalid; the declared names remain
            logger.exception("metric name source %r failed", source)
    return dict(sorted(names.items()))


def register_metric_name_source(source: Callable[[], Iterable[str]]) -> None:
    """Register a function that returns metric names rules may watch (asked whenever the names are needed)."""
    METRIC_NAME_SOURCES.register(source)


def known_events() -> dict[str, str]:
    return dict(sorted(_registry.events.items()))


def register_provider(func: Provider, *, metrics: Iterable[str] = ()) -> Provider:
    """Register a provider (usable as a decorator); `metrics` declares the metric names it reports."""
    for name in metrics:
        declare_metric(name)
    return PROVIDERS.register(func)


def unregister_provider(func: Provider) -> None:
    PROVIDERS.unregister(func)


def _discover() -> None:
    """Import every installed app's alerting.py (where modules register their providers and declare metrics)."""
    autodiscover("alerting")


def collect(now: datetime) -> list[Observation]:
    """All observations of all providers (a failing provider is logged and skipped)."""
    return collect_reporting_failures(now)[0]


class ObservationsUnavailable(Exception):
    """A provider cannot observe right now (no fresh snapshot yet, say): logged as one line, no traceback.

    The provider still counts as failed, so the alerts it feeds stay as they are.
    """


def collect_reporting_failures(now: datetime) -> tuple[list[Observation], list[str]]:
    """All observations, and the names of providers that failed.

    The evaluator must know about failures: a failed provider's label sets look unobserved, and resolving their
    alerts on a provider's crash would announce "all clear" exactly when nobody can see.
    """
    _discover()
    observations: list[Observation] = []
    failed: list[str] = []
    for provider in PROVIDERS:
        try:
            observations.extend(provider(now))
        except ObservationsUnavailable as exc:
            logger.warning("alert observation provider %s has nothing to observe: %s",
                           getattr(provider, "__qualname__", repr(provider)), exc)
            failed.append(getattr(provider, "__qualname__", repr(provider)))
        except Exception:
            logger.exception("alert observation provider %r failed", provider)
            failed.append(getattr(provider, "__qualname__", repr(provider)))
    return observations, failed


declare_metric(METRIC_DISK_USED, _("Used space of a file system, in percent (labels: host, path)"))
declare_metric(METRIC_MEMORY_USED, _("Used memory, in percent (labels: host)"))
declare_metric(METRIC_CPU, _("CPU use, in percent (labels: host)"))
declare_metric(METRIC_BACKUP_AGE, _("Seconds since the last successful backup (labels: source)"))
declare_metric(METRIC_BUDGET_BREACHED, _("1 while a target's p95 is over its budget or its last probe round failed "
                                         "(labels: target, kind)"))
declare_metric(METRIC_ROUTE_OVER_BUDGET, _("1 while a route's p95 of real requests (last 5 min) is over its budget "
                                           "(labels: route, method, kind)"))
declare_event(EVENT_BACKUP_FAILED, _("A backup run failed"))
declare_event(EVENT_BUDGET_BREACHED, _("A performance target's p95 exceeded its budget"))
