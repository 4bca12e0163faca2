"""Dashboard views, mounted by the admin site (so only active staff reach them). They authorise and render only."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.http import HttpRequest, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from dashboards.ranges import RANGES, RangeError, time_range_parse
from dashboards.selectors import dashboard_history, overview_context, overview_state

# The overview's sections, each a template the index page includes and the polling endpoint renders again.
OVERVIEW_SECTIONS = {
    "health": "admin/overview/_health.html",
    "backups": "admin/overview/_backups.html",
    "alerts": "alerting/_firing_alerts.html",
    "performance": "admin/overview/_performance.html",
    "workers": "admin/overview/_workers.html",
}


# Strings the history page's script shows, translated here (the script has no catalog of its own).
DASHBOARD_MESSAGES = {
    "loading": gettext_lazy("Loading…"),
    "failed": gettext_lazy("Could not load the history: %(error)s"),
    "noData": gettext_lazy("No data in this range."),
    # One whole sentence per resolution (not "%(resolution)s resolution" with a word put in): each language orders
    # and spaces it its own way ("5 分ごとの解像度").
    "loaded_raw": gettext_lazy("%(points)s points at one-minute resolution, read in %(ms)s ms."),
    "loaded_raw300": gettext_lazy("%(points)s points at five-minute resolution, read in %(ms)s ms."),
    "loaded_hour": gettext_lazy("%(points)s points at hourly resolution, read in %(ms)s ms."),
    "loaded_day": gettext_lazy("%(points)s points at daily resolution, read in %(ms)s ms."),
    "size": gettext_lazy("size"),
    "duration": gettext_lazy("duration"),
    "noChecks": gettext_lazy("No check results in this range."),
    "time": gettext_lazy("Time"),
}


@never_cache
@require_safe
def overview_data(request: HttpRequest) -> JsonResponse:
    """What the operations overview polls: its facts as data and each section rendered again."""
    # The sections' forms (Run backup now) come back to the index, not to this endpoint.
    context = {**overview_context(), "overview_return_url": reverse("admin:index")}
    sections = {name: render_to_string(template, context, request=request)
                for name, template in OVERVIEW_SECTIONS.items()}
    return JsonResponse({**overview_state(context), "sections": sections})


def history_page(request: HttpRequest, *, site: AdminSite) -> TemplateResponse:
    context = {
        **site.each_context(request),
        "title": _("Health history"),
        "ranges": [(key, label) for key, (_span, label) in RANGES.items()],
        "selected_range": "" if request.GET.get("start") else request.GET.get("range", "24h"),
        "dashboard_messages": {key: str(text) for key, text in DASHBOARD_MESSAGES.items()},
    }
    return TemplateResponse(request, "admin/dashboards/history.html", context)


@never_cache
@require_safe
def history_data(request: HttpRequest) -> JsonResponse:
    try:
        time_range = time_range_parse(key=request.GET.get("range", ""), start=request.GET.get("start", ""),
                                      end=request.GET.get("end", ""))
    except RangeError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse(dashboard_history(time_range=time_range))
