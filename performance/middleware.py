"""Request timing: server time of every request by route pattern, method and status class.

Put it right after SecurityMiddleware so it times almost the whole stack. The route is the URL pattern
(`admin/<app_label>/<model>/<path:object_id>/change/`), never the raw path, so the number of series stays bounded;
requests that match no pattern share one label (404s of random paths), static files served by WhiteNoise before
URL resolution another.
"""

from __future__ import annotations

from time import perf_counter

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed

from performance.timing import STATIC_ROUTE, UNMATCHED_ROUTE, get_aggregator


class RequestTimingMiddleware:
    def __init__(self, get_response) -> None:
        if not settings.PERF_REQUEST_TIMING:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.observe = get_aggregator().observe
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else None

    def __call__(self, request):
        started = perf_counter()
        response = self.get_response(request)
        elapsed = perf_counter() - started
        match = request.resolver_match
        if match is not None:
            route = match.route or "/"
        elif self.static_prefix and request.path.startswith(self.static_prefix):
            route = STATIC_ROUTE
        else:
            route = UNMATCHED_ROUTE
        self.observe(route, request.method, response.status_code, elapsed)
        return response
