"""Request timing: server time of every request by route pattern, method and status class.

Put it right after SecurityMiddleware so it times almost the whole stack. The route is the URL pattern
(`admin/<app_label>/<model>/<path:object_id>/change/`), never the raw path, so the number of series stays bounded;
requests that match no pattern (404s of random paths) share one label.
"""

from __future__ import annotations

from time import perf_counter

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed

from performance.timing import UNMATCHED_ROUTE, get_aggregator


class RequestTimingMiddleware:
    def __init__(self, get_response) -> None:
        if not settings.PERF_REQUEST_TIMING:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.observe = get_aggregator().observe

    def __call__(self, request):
        started = perf_counter()
        response = self.get_response(request)
        elapsed = perf_counter() - started
        match = request.resolver_match
        route = (match.route or "/") if match is not None else UNMATCHED_ROUTE
        self.observe(route, request.method, response.status_code, elapsed)
        return response
