"""The system API: liveness, readiness, health (all checks) and metrics. Views only authorise and render."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from monitoring.auth import Access, access
from monitoring.metrics import PREFIX, collect_registered, prometheus_text, samples_json
from monitoring.models import Status
from monitoring.pool import run_database_job
from monitoring.runner import health_report_collect, health_report_shared

logger = logging.getLogger(__name__)

READINESS_CHECKS = ["database", "redis:broker"]
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS_FORMATS = ("json", "prometheus")


def _unauthorised() -> JsonResponse:
    response = JsonResponse({"status": "unauthorised"}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="opsportal"'
    return response


def _health_response(body: dict, status: Status) -> JsonResponse:
    response = JsonResponse(body, status=503 if status == Status.CRITICAL else 200)
    # A 503 here is the answer to "are you healthy?", not a server error: a load balancer probing every second
    # must not write an ERROR line to the log each time (the checks log their own failures).
    response._has_been_logged = True
    return response


@never_cache
@require_safe
def health_live(request):
    """Liveness: the process answers. No dependency is checked, so this is always fast."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def health_ready(request):
    """Readiness: the database and the broker answer (only those: a full disk must not take the web out)."""
    report = health_report_collect(names=["database", "redis"], hosts=False)
    results = [result for result in report.results if result.name in READINESS_CHECKS]
    status = max((result.counts_as for result in results), key=[Status.OK, Status.WARNING, Status.CRITICAL].index,
                 default=Status.OK)
    body = {"status": str(status), "checks": {result.name: str(result.status) for result in results}}
    return _health_response(body, status)


@never_cache
@require_safe
def health(request):
    granted = access(request, expected_token=settings.HEALTH_TOKEN)
    if granted is Access.BAD_TOKEN:
        return _unauthorised()
    report = health_report_shared()
    # Anonymous callers (load balancers, uptime probes) get the overall status only: failing systems stay private.
    body: dict = {"status": str(report.status)}
    if granted is Access.GRANTED:
        body.update(
            generated_at=report.generated_at.isoformat(),
            duration_ms=round(report.duration * 1000, 2),
            checks=[result.to_dict() for result in report.results],
        )
    return _health_response(body, report.status)


def _wants_prometheus(request) -> bool:
    if "format" in request.GET:
        return request.GET["format"] == "prometheus"
    accept = request.META.get("HTTP_ACCEPT", "")
    return "text/plain" in accept or "openmetrics" in accept


@never_cache
@require_safe
def metrics(request):
    if access(request, expected_token=settings.METRICS_TOKEN) is not Access.GRANTED:
        return _unauthorised()
    # A format this view does not speak is refused, not silently answered in JSON (docs/api/openapi.yaml).
    if "format" in request.GET and request.GET["format"] not in METRICS_FORMATS:
        return JsonResponse({"status": "bad request",
                             "error": _("format must be one of: %s") % ", ".join(METRICS_FORMATS)}, status=400)
    report = health_report_shared(metrics=True)
    samples = report.samples()
    try:
        # The collectors read the database (performance targets): on the checks' bounded connections, not on one
        # of this request thread's own.
        families = run_database_job("metric collectors", collect_registered,
                                    timeout=settings.HEALTH_DEADLINE.total_seconds())
    except Exception as exc:
        logger.warning("metric collectors failed: %s", exc)
        response = JsonResponse({"status": "unavailable",
                                 "error": _("the metrics could not be read from the database in time")}, status=503)
        response._has_been_logged = True  # logged above, once, as a warning
        return response
    if _wants_prometheus(request):
        return HttpResponse(prometheus_text(samples, families), content_type=PROMETHEUS_CONTENT_TYPE)
    return JsonResponse({
        "status": str(report.status),
        "generated_at": report.generated_at.isoformat(),
        "prefix": PREFIX,
        "samples": samples_json(samples, families),
    })
