"""The group and user forms list permissions in the reader's language: real Chromium at 1400×900, the available
permissions of the filter_horizontal widget on the group add page and a user's change page, in English and Japanese,
screenshotted to test-artifacts/console/."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from tests.opsportal.console_browser import PASSWORD, console_page, english_on_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Added by this work; the Japanese check passes once the catalog translates them.
NEW_MSGIDS = ("Can add %(model)s", "Can change %(model)s", "Can delete %(model)s", "Can view %(model)s")
EXPECTED = {
    "en": "Backups | backup run | Can add backup run",
    "ja": "バックアップ | バックアップ実行 | ",
}


def available_permissions(page, field: str) -> list[str]:
    """The options of the widget's "Available" list (SelectFilter2 moves the select's options there)."""
    page.locator(f"#id_{field}_from option").first.wait_for()
    return page.locator(f"#id_{field}_from option").all_inner_texts()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_group_and_user_forms_list_permissions_in_the_readers_language(live_server, language):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    Group.objects.create(name="operators")
    operator = get_user_model().objects.create_user("operator", password="pw-operator-0123", is_staff=True)
    pages = [("group-add", "/admin/auth/group/add/", "permissions"),
             ("user-change", f"/admin/auth/user/{operator.pk}/change/", "user_permissions")]
    with console_page(live_server.url, language) as (page, errors):
        for name, path, field in pages:
            page.goto(f"{live_server.url}{path}")
            options = available_permissions(page, field)
            shot(page, f"permissions-{name}", language)
            assert any(option.startswith(EXPECTED[language]) for option in options), options[:20]
            if language == "ja":
                backup_runs = [option for option in options if option.startswith("バックアップ | バックアップ実行 | ")]
                assert len(backup_runs) == 6, backup_runs  # add, change, delete, view and the two custom ones
                assert [option for option in options if "Can " in option] == []
                assert english_on_page(page, "#container", new_msgids=NEW_MSGIDS) == []
        assert errors == []
