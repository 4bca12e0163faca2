"""Which portal answered: an id every process of one installation shares, sent on every response.

A probe of the portal's own pages must measure this portal, not whatever answers at PERF_BASE_URL (another
service on a shared host, an old instance on the default port). The id is derived from SECRET_KEY, which the web
server and the workers share and nobody else has; it reveals nothing about the key (HMAC-SHA256, 16 hex digits).
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from django.conf import settings

HEADER = "X-OpsPortal-Instance"


@functools.cache
def _instance_id_for(secret_key: str) -> str:
    return hmac.new(secret_key.encode(), b"opsportal-instance", hashlib.sha256).hexdigest()[:16]


def instance_id() -> str:
    return _instance_id_for(settings.SECRET_KEY)


class InstanceHeaderMiddleware:
    """Every response, static files (whitenoise comes after it) and errors included, says which portal sent it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response[HEADER] = instance_id()
        return response
