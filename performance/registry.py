"""Targets declared in code: any installed app's `perf.py` lists them, so a new module brings its own.

A `perf.py` holds a module-level list::

    from performance.registry import TargetSpec

    TARGETS = [
        TargetSpec(name="documents: list API", url_name="documents:api-list"),
        TargetSpec(name="documents: upload page", kind="page", url="/documents/upload/", budget_ms=2000),
    ]

Discovery (`opsportal.lib.registry.autodiscover("perf")`) imports those modules and registers their targets in
TARGETS, one `Registry` keyed by target name, so two modules cannot declare the same name.
`performance_targets_sync` (services.py) creates the missing ones as PerfTarget rows; existing rows are left as an
admin may have edited them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from opsportal.lib.registry import Registry, autodiscover

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


TARGETS: Registry[TargetSpec] = Registry("performance target", name_of=lambda spec: spec.name)


def discover_targets() -> list[DeclaredTarget]:
    """Import `<app>.perf` of every installed app, register its TARGETS and list them (those whose URL resolves)."""
    for module in autodiscover("perf"):
        for spec in getattr(module, "TARGETS", []):
            if not isinstance(spec, TargetSpec):
                raise TypeError(f"{module.__name__}.TARGETS must hold TargetSpec objects, not {type(spec).__name__}")
            TARGETS.register(spec, origin=module.__name__)
    declared: list[DeclaredTarget] = []
    for entry in TARGETS.entries():
        spec = entry.item
        if spec.only_if_resolves and not spec.resolves():
            logger.debug("perf target %s skipped: URL name %s does not resolve", spec.name, spec.url_name)
            continue
        declared.append(DeclaredTarget(spec=spec, source=entry.origin))
    return declared
