"""Who may see details: a staff session, or `Authorization: Bearer <token>` compared in constant time."""

from __future__ import annotations

import enum
import hmac
import logging

from django.http import HttpRequest

logger = logging.getLogger("monitoring.auth")


class Access(enum.Enum):
    ANONYMOUS = "anonymous"
    GRANTED = "granted"
    BAD_TOKEN = "bad token"  # noqa: S105 - a state, not a secret


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _is_staff(request: HttpRequest) -> bool:
    # Only a request carrying a session cookie touches the database; when that database is down, the caller is
    # treated as anonymous rather than failing the health endpoint.
    try:
        user = request.user
        return bool(user.is_active and user.is_staff)
    except Exception:
        logger.warning("could not load the session of a %s request", request.path)
        return False


def access(request: HttpRequest, *, expected_token: str) -> Access:
    token = bearer_token(request)
    if token is not None:
        if expected_token and hmac.compare_digest(token.encode(), expected_token.encode()):
            return Access.GRANTED
        # Never the token itself: only where the attempt came from.
        logger.warning("rejected bearer token for %s from %s", request.path, request.META.get("REMOTE_ADDR", "?"))
        return Access.BAD_TOKEN
    return Access.GRANTED if _is_staff(request) else Access.ANONYMOUS
