"""The module's own pages: a board for people and a JSON API, mounted at /demo_module/ by discovery."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from tests.demo_module.models import Shipment


def _counts() -> dict[str, int]:
    total = Shipment.objects.count()
    waiting = Shipment.objects.filter(shipped=False).count()
    return {"shipments": total, "waiting": waiting}


@require_safe
def board(request: HttpRequest) -> HttpResponse:
    counts = _counts()
    return HttpResponse(format_html(
        "<!doctype html><html><head><title>{}</title></head><body><h1>{}</h1><p>{}</p></body></html>",
        _("Shipments"), _("Shipments"),
        _("%(waiting)d of %(total)d shipments waiting") % {"waiting": counts["waiting"], "total": counts["shipments"]},
    ))


@require_safe
def shipments_api(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_counts())
