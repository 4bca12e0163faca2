"""Permission choices in the reader's language: the four default actions as a translated sentence with the model's
translated name, custom permissions through gettext, a permission whose model is gone as stored."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.utils import translation

from backups.models import BackupRun
from opsportal.lib.permissions import permission_label

pytestmark = pytest.mark.django_db


def backup_run_permission(codename: str) -> Permission:
    return Permission.objects.get(content_type=ContentType.objects.get_for_model(BackupRun), codename=codename)


@pytest.mark.parametrize(("action", "sentence"), [("add", "Can add"), ("change", "Can change"),
                                                  ("delete", "Can delete"), ("view", "Can view")])
def test_default_actions_in_english_read_like_django(action, sentence):
    permission = backup_run_permission(f"{action}_backuprun")
    with translation.override("en"):
        assert permission_label(permission) == f"Backups | backup run | {sentence} backup run"
        assert permission_label(permission) == str(permission).replace("backups | ", "Backups | ")


@pytest.mark.parametrize("action", ["add", "change", "delete", "view"])
def test_default_actions_in_japanese_name_the_model_in_japanese(action):
    with translation.override("ja"):
        label = permission_label(backup_run_permission(f"{action}_backuprun"))
    assert label.startswith("バックアップ | バックアップ実行 | "), label
    assert "バックアップ実行" in label.rsplit(" | ", 1)[1], label
    assert "Can " not in label and "backup run" not in label, label


def test_the_label_is_built_when_shown_not_taken_from_the_stored_name():
    """A model renamed after migrate keeps its old stored name; the label names the model as it is now."""
    permission = backup_run_permission("add_backuprun")
    Permission.objects.filter(pk=permission.pk).update(name="Can add backup job")
    permission.refresh_from_db()
    with translation.override("en"):
        assert permission_label(permission) == "Backups | backup run | Can add backup run"


def test_a_custom_permission_shows_its_stored_name_translated():
    permission = backup_run_permission("run_backup")
    with translation.override("en"):
        assert permission_label(permission) == "Backups | backup run | Can run, verify, drill and pin backups"
    with translation.override("ja"):
        assert permission_label(permission) == ("バックアップ | バックアップ実行 | "
                                                "バックアップの実行、検証、訓練、ピン留めができる")


def test_a_permission_whose_model_is_gone_shows_what_is_stored():
    content_type = ContentType.objects.create(app_label="retired", model="oldreport")
    permission = Permission.objects.create(content_type=content_type, codename="add_oldreport",
                                           name="Can add old report")
    with translation.override("ja"):
        assert permission_label(permission) == "retired | oldreport | Can add old report"


def test_the_group_form_lists_permissions_with_these_labels(admin_client):
    """The group add form's choices (the filter_horizontal's options) carry the labels, in the request's language."""
    page = admin_client.get("/admin/auth/group/add/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">Backups | backup run | Can add backup run</option>" in page
    assert ">Authentication and Authorization | user | Can change user</option>" in page
    page = admin_client.get("/admin/auth/group/add/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert ">バックアップ | バックアップ実行 | " in page
    assert "Can add" not in page and "Can change user" not in page


def test_a_user_who_may_only_view_groups_reads_their_permissions_in_his_language(client, django_user_model):
    """Without the change permission the group page shows the permissions as text, not as choices: that text is in the
    reader's language too (Django's own read-only display joins the stored English names)."""
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="operators")
    group.permissions.add(backup_run_permission("add_backuprun"), backup_run_permission("run_backup"))
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_group"))
    client.force_login(viewer)
    page = client.get(f"/admin/auth/group/{group.pk}/change/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "バックアップ | バックアップ実行 | バックアップの実行、検証、訓練、ピン留めができる" in page
    assert "Can add" not in page and "Can run" not in page
    page = client.get(f"/admin/auth/group/{group.pk}/change/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Backups | backup run | Can add backup run" in page


def test_a_user_who_may_only_view_users_reads_their_own_permissions_in_his_language(client, django_user_model):
    operator = django_user_model.objects.create_user("operator", password="x")
    operator.user_permissions.add(backup_run_permission("view_backuprun"))
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    client.force_login(viewer)
    page = client.get(f"/admin/auth/user/{operator.pk}/change/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "バックアップ | バックアップ実行 | " in page
    assert "Can view" not in page
