"""Test-only views served by the live server: never part of the production URLconf."""

from __future__ import annotations

import time

from django.http import HttpResponse, HttpResponseForbidden, JsonResponse


def slow(request, ms: int):
    time.sleep(ms / 1000)
    return JsonResponse({"slept_ms": ms})


def fails(request):
    return HttpResponse("deliberate failure", status=500)


def page(request):
    return HttpResponse(
        "<!doctype html><html><head><title>perf page</title></head>"
        "<body><h1>Performance test page</h1><p>" + "Some visible text for the largest contentful paint. " * 20 + "</p>"
        "</body></html>"
    )


def members_only(request):
    if not request.user.is_authenticated:
        return HttpResponseForbidden("log in first")
    return HttpResponse(f"<!doctype html><html><body><h1>Hello {request.user.get_username()}</h1></body></html>")
