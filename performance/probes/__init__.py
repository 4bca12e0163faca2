"""Probes measure; they never touch the database. services.py stores what they return."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ProbeMeasurement:
    """One measurement. `outcome` is ok, failed or unavailable (PerfResult.Outcome values)."""

    outcome: str
    duration_ms: float | None = None
    http_status: int | None = None
    ttfb_ms: float | None = None
    dom_content_loaded_ms: float | None = None
    load_ms: float | None = None
    lcp_ms: float | None = None
    size_bytes: int | None = None
    error: str = ""
    extra: dict = field(default_factory=dict)


def another_server(url: str) -> str:
    """The failure of a probe of the portal's own page that another server answered (PERF_BASE_URL is wrong)."""
    from django.utils.translation import gettext as _

    from opsportal.lib.instance import HEADER

    return _("another server answered at %(url)s: not this portal (its %(header)s header is missing or differs); "
             "check PERF_BASE_URL / PORTAL_URL") % {"url": url, "header": HEADER}
