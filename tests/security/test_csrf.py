"""Every URL of the portal refuses a state-changing POST without a CSRF token, even from a logged-in superuser."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = [pytest.mark.django_db, pytest.mark.security]

# Where a URL has a parameter, any value will do: the CSRF check runs before the view looks the object up.
SAMPLE = {"int": "1", "path": "1", "str": "1", "slug": "x", "uuid": "00000000-0000-0000-0000-000000000001"}


def _route(pattern) -> str | None:
    if hasattr(pattern, "_route"):
        return re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE[m.group(1) or "str"], str(pattern._route))
    regex = pattern.regex.pattern
    # The admin's app index is a regex listing the app labels; take the first label.
    regex = re.sub(r"\(\?P<\w+>([\w]+)\|[^)]*\)", r"\1", regex)
    regex = re.sub(r"\(\?P<\w+>[^)]*\)", "1", regex)
    if re.search(r"[\\\[\]()*+?{}|]", regex.strip("^$")):
        return None
    return regex.strip("^$")


def _every_path(patterns=None, prefix: str = "") -> list[str]:
    paths: list[str] = []
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = _route(pattern.pattern)
        if route is None:
            continue
        if isinstance(pattern, URLResolver):
            paths += _every_path(pattern.url_patterns, prefix + route)
        elif isinstance(pattern, URLPattern):
            paths.append("/" + prefix + route)
    return sorted(set(paths))


PATHS = _every_path()


def test_the_walk_finds_every_kind_of_state_changing_url():
    assert len(PATHS) > 100
    for expected in (
        "/admin/backups/backuprun/run-now/",
        "/admin/backups/backuprun/1/restore/",
        "/admin/alerting/alertrule/add/",
        "/admin/alerting/alert/",
        "/admin/performance/perftarget/1/change/",
        "/admin/logout/",
        "/i18n/setlang/",
    ):
        assert expected in PATHS


@pytest.mark.parametrize("path", PATHS)
def test_a_post_without_a_csrf_token_is_refused(path):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = client.post(path, {"action": "delete_selected", "_selected_action": ["1"], "post": "yes"})
    # 403 from CsrfViewMiddleware; 405 where the endpoint takes no POST at all (health, metrics, probes' pages).
    assert response.status_code in (403, 405), (path, response.status_code)
    if response.status_code == 403:
        assert b"CSRF" in response.content, path


def test_the_same_post_with_the_token_gets_through_csrf():
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    page = client.get("/admin/alerting/silence/add/")
    token = page.cookies["csrftoken"].value
    response = client.post("/admin/alerting/silence/add/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 200 and b"CSRF" not in response.content  # the form itself answers
