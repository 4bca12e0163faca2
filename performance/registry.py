"""Targets declared in code: any installed app's `perf.py` lists them, so a new module brings its own.

A `perf.py` holds a module-level list::

    from performance.registry import TargetSpec

    TARGETS = [
        TargetSpec(name="documents: list API", url_name="documents:api-list"),
        TargetSpec(name="documents: upload page", kind="page", url="/documents/upload/", budget_ms=2000),
    ]

`performance_targets_sync` (services.py) creates the missing ones as PerfTarget rows; existing rows are left as an
admin may have edited them.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from django.apps import apps
from django.urls import NoReverseMatch, reverse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetSpec:
    name: str
    kind: str = "api"
    url: str = ""
    url_name: str = ""
    method: str = "GET"
    expected_status: int = 200
    budget_ms: int | None = None  # None: the default for the kind (1000 ms API, 3000 ms page)
    samples: int = 3
    # Declared only where the URL name resolves, e.g. an endpoint of an app that may not be installed yet.
    only_if_resolves: bool = False

    def __post_init__(self) -> None:
        if bool(self.url) == bool(self.url_name):
            raise ValueError(f"perf target {self.name!r}: give exactly one of url= or url_name=")
        if self.kind not in {"api", "page"}:
            raise ValueError(f"perf target {self.name!r}: kind must be 'api' or 'page', not {self.kind!r}")

    def resolves(self) -> bool:
        if not self.url_name:
            return True
        try:
            reverse(self.url_name)
        except NoReverseMatch:
            return False
        return True


@dataclass(frozen=True)
class DeclaredTarget:
    spec: TargetSpec
    source: str  # the module that declared it


def discover_targets() -> list[DeclaredTarget]:
    """Import `<app>.perf` of every installed app and collect its TARGETS (those whose URL resolves)."""
    declared: list[DeclaredTarget] = []
    for config in apps.get_app_configs():
        module_name = f"{config.name}.perf"
        if importlib.util.find_spec(config.name) is None:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # the app declares no targets
            raise
        for spec in getattr(module, "TARGETS", []):
            if not isinstance(spec, TargetSpec):
                raise TypeError(f"{module_name}.TARGETS must hold TargetSpec objects, not {type(spec).__name__}")
            if spec.only_if_resolves and not spec.resolves():
                logger.debug("perf target %s skipped: URL name %s does not resolve", spec.name, spec.url_name)
                continue
            declared.append(DeclaredTarget(spec=spec, source=module_name))
    return declared
