"""Permissions named in the reader's language.

Django stores Permission.name in the database when it migrates ("Can add backup run"), in English, and its forms show
that stored text ("auth | user | Can change user"). Here a permission's label is built when it is shown: the four
default actions (add, change, delete, view) as one translated sentence with the model's translated verbose_name,
prefixed like Permission.__str__ ("app | model | name") with the app's and the model's translated names. A custom
permission shows its stored name through gettext (ours are marked, so translated); a permission whose model no longer
exists shows what is stored.
"""

from __future__ import annotations

from django import forms
from django.apps import apps
from django.contrib.auth.models import Permission
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# One sentence per default action (Options.default_permissions), the model's name filled in.
DEFAULT_ACTION_NAMES = {
    "add": _("Can add %(model)s"),
    "change": _("Can change %(model)s"),
    "delete": _("Can delete %(model)s"),
    "view": _("Can view %(model)s"),
}


def permission_label(permission: Permission) -> str:
    """The label in the active language, e.g. "Backups | backup run | Can add backup run" (in Japanese, once the
    sentence is translated: "バックアップ | バックアップ実行 | バックアップ実行を追加できる")."""
    content_type = permission.content_type
    model = content_type.model_class()
    if model is None:  # the model is gone (its app removed): only the stored texts are left
        return f"{content_type.app_label} | {content_type.model} | {permission.name}"
    opts = model._meta
    action, _separator, model_name = permission.codename.partition("_")
    if action in DEFAULT_ACTION_NAMES and model_name == opts.model_name:
        name = str(DEFAULT_ACTION_NAMES[action]) % {"model": opts.verbose_name}
    else:
        name = gettext(permission.name)
    return f"{apps.get_app_config(content_type.app_label).verbose_name} | {opts.verbose_name} | {name}"


class PermissionMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Permissions to choose from (a group's, a user's), each labelled by permission_label."""

    def label_from_instance(self, obj: Permission) -> str:
        return permission_label(obj)
