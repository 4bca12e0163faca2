"""Every admin page and action of monitoring, alerting and performance, for anonymous, staff, staff with each
permission, and superuser: the server refuses what the UI hides. (Backups: tests/backups/test_admin_permissions.py.)
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.urls import reverse

pytestmark = [pytest.mark.django_db, pytest.mark.security]

APPS = ("monitoring", "alerting", "performance")
ADMINS = sorted(
    ((model, model_admin) for model, model_admin in admin.site._registry.items() if model._meta.app_label in APPS),
    key=lambda pair: pair[0]._meta.label,
)
IDS = [model._meta.label for model, _ in ADMINS]


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _staff(client, *codenames: str, app: str | None = None) -> User:
    user = User.objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    if codenames:
        user.user_permissions.set(
            Permission.objects.filter(codename__in=codenames, **({"content_type__app_label": app} if app else {}))
        )
    client.force_login(user)
    return user


def _action_names(model_admin) -> list[str]:
    return [getattr(action, "__name__", action) for action in (model_admin.actions or [])]


def _required_permissions(model_admin, action_name: str) -> list[str]:
    action = getattr(model_admin, action_name, None) or next(
        a for a in model_admin.actions if getattr(a, "__name__", None) == action_name
    )
    return list(getattr(action, "allowed_permissions", []))


def _post_action(client, model, action: str) -> bool:
    """Post an action on a nonexistent id (validated, allowed or not, without touching any row): was it refused?"""
    response = client.post(_url(model, "changelist"), {"action": action, "_selected_action": ["987654"], "index": "0"})
    said = [str(m) for m in get_messages(response.wsgi_request)]
    if "No action selected." in said:
        return True  # the action is not among this user's choices: the form refused it
    # With no action allowed at all, the post is ignored and the plain list is shown again.
    return response.status_code == 200 and getattr(response, "context_data", {}).get("cl") is not None and not said


@pytest.mark.parametrize("model, model_admin", ADMINS, ids=IDS)
def test_anonymous_is_sent_to_the_login_page(client, model, model_admin):
    for url in (_url(model, "changelist"), _url(model, "add")):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        response = client.post(url, {})
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("model, model_admin", ADMINS, ids=IDS)
def test_staff_without_permissions_gets_403_everywhere(client, model, model_admin):
    _staff(client)
    assert client.get(_url(model, "changelist")).status_code == 403
    refused = client.post(_url(model, "changelist"), {"action": "delete_selected", "_selected_action": ["1"]})
    assert refused.status_code == 403
    assert client.post(_url(model, "add"), {}).status_code == 403
    assert client.post(_url(model, "change", 1), {}).status_code in (302, 403)  # 302: "does not exist" to the index
    assert client.post(_url(model, "delete", 1), {"post": "yes"}).status_code in (302, 403)


@pytest.mark.parametrize("model, model_admin", ADMINS, ids=IDS)
def test_view_permission_sees_the_list_but_every_writing_action_is_refused(client, model, model_admin):
    _staff(client, f"view_{model._meta.model_name}", app=model._meta.app_label)
    response = client.get(_url(model, "changelist"))
    assert response.status_code == 200
    shown = response.context["action_form"].fields["action"].choices if response.context.get("action_form") else []
    assert all(name == "" for name, _ in shown), f"a view-only user is offered actions: {shown}"
    assert client.post(_url(model, "add"), {}).status_code == 403
    for action in ["delete_selected", *_action_names(model_admin)]:
        assert _post_action(client, model, action), action


WRITING_ACTIONS = [
    (model, model_admin, action)
    for model, model_admin in ADMINS
    for action in _action_names(model_admin)
]


@pytest.mark.parametrize(
    "model, model_admin, action", WRITING_ACTIONS, ids=[f"{m._meta.label}.{a}" for m, _, a in WRITING_ACTIONS]
)
def test_each_action_is_accepted_only_with_its_permission(client, model, model_admin, action):
    needed = _required_permissions(model_admin, action)
    codename = {"change": f"change_{model._meta.model_name}", "silence": "add_silence"}
    granted = [codename.get(p, p) for p in needed]
    user = _staff(client, f"view_{model._meta.model_name}", *granted)
    assert not _post_action(client, model, action), f"{action} refused despite {granted}"
    user.user_permissions.set(Permission.objects.filter(codename=f"view_{model._meta.model_name}"))
    user = User.objects.get(pk=user.pk)  # drop the permission cache
    client.cookies.clear()  # and the first post's messages
    client.force_login(user)
    assert _post_action(client, model, action), f"{action} accepted without {granted}"


@pytest.mark.parametrize("model, model_admin", ADMINS, ids=IDS)
def test_superuser_opens_every_list(client, model, model_admin):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    assert client.get(_url(model, "changelist")).status_code == 200


@pytest.mark.parametrize("role", ["anonymous", "staff-without-permissions"])
def test_the_admin_index_and_overview_need_a_staff_login(client, role):
    if role != "anonymous":
        user = User.objects.create_user("plain", "p@example.com", "pw", is_staff=False)
        client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
