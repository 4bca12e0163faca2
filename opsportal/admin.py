"""django-celery-beat's admin pages in the request's language, without forking the package.

Our catalog (opsportal/i18n/third_party) translates every string django-celery-beat marks; this module covers what it
shows without marking: the "Scheduler" column and the "Task Name" filter of the periodic task list, the "Task Name"
column of the tasks listed on a schedule's page, the "Human readable" crontab description (cron-descriptor's text in
the server's locale, here in the request's language), the description of the crontab on a periodic task's page and the
error for running a task nobody registered. Each admin is django-celery-beat's own, subclassed and registered again
(this app comes after django_celery_beat in INSTALLED_APPS): forms, actions, templates and permissions stay its own.

Django's group and user admins are registered again the same way, their permission choices in the reader's language.
"""

from __future__ import annotations

import re

from celery import schedules
from cron_descriptor import FormatException, MissingFieldException, Options, WrongArgumentException, get_description
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, Permission, User
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
    cronexp,
)

from opsportal.lib.permissions import PermissionMultipleChoiceField, permission_label

# cron-descriptor's locales (cron_descriptor/locale/*.mo) for the portal's languages; any other reads English.
CRON_DESCRIPTOR_LOCALES = {"ja": "ja_JP"}


def crontab_expression(*, crontab: CrontabSchedule) -> str:
    """The five-field expression CrontabSchedule.human_readable describes, built as it does (django-celery-beat
    2.9): a day-of-week list covering all seven days reads "*", any other is the days celery parses it into."""
    try:
        parsed = schedules.crontab(minute=crontab.minute, hour=crontab.hour, day_of_week=crontab.day_of_week,
                                   day_of_month=crontab.day_of_month, month_of_year=crontab.month_of_year)
        if parsed.day_of_week and set(parsed.day_of_week) == set(range(7)):
            day_of_week = "*"
        else:
            day_of_week = cronexp(",".join(map(str, parsed.day_of_week)))
    except ValueError:
        day_of_week = cronexp(crontab.day_of_week)
    return " ".join((cronexp(crontab.minute), cronexp(crontab.hour), cronexp(crontab.day_of_month),
                     cronexp(crontab.month_of_year), day_of_week))


def crontab_description(*, crontab: CrontabSchedule, language: str | None = None) -> str:
    """CrontabSchedule.human_readable in `language` (default: the active one, i.e. the request's) rather than the
    server's locale, with 24-hour times: e.g. "次において実施 03:00 UTC" in Japanese, "At 03:00 UTC" in English. An
    expression cron-descriptor cannot describe is shown as it is, like human_readable does."""
    options = Options()
    options.locale_code = CRON_DESCRIPTOR_LOCALES.get((language or get_language() or "en").split("-")[0], "en_US")
    options.use_24hour_time_format = True
    expression = crontab_expression(crontab=crontab)
    try:
        described = get_description(expression, options)
    except (MissingFieldException, FormatException, WrongArgumentException):
        described = expression
    if options.locale_code == "ja_JP":
        # cron-descriptor names weekdays and months with the server's C locale, not its catalog: "Sunday にのみ".
        described = _ENGLISH_NAMES.sub(lambda found: _JAPANESE_NAMES[found.group(0)], described)
    return f"{described} {crontab.timezone}"


_JAPANESE_NAMES = {
    **dict(zip(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
               ["月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日", "日曜日"], strict=True)),
    **{month: f"{number}月" for number, month in enumerate(
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
         "November", "December"], start=1)},
}
_ENGLISH_NAMES = re.compile(r"\b(" + "|".join(_JAPANESE_NAMES) + r")\b")


class TaskNameFilter(admin.AllValuesFieldListFilter):
    """The filter on PeriodicTask.task, titled in the request's language (its verbose_name is not marked)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.title = _("Task Name")


class PeriodicTaskInlineForm(forms.ModelForm):
    class Meta:
        # The inline shows the fields read-only; their headers take these labels before the models' verbose_name.
        labels = {"task": _("Task Name")}


class PeriodicTaskInline(beat_admin.PeriodicTaskInline):
    """The periodic tasks using a schedule, on the schedule's page."""

    form = PeriodicTaskInlineForm


class ScheduleAdminMixin:
    inlines = [PeriodicTaskInline]


admin.site.unregister([PeriodicTask, CrontabSchedule, IntervalSchedule, SolarSchedule, ClockedSchedule])


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    # django-celery-beat's list_filter, its "task" entry under a translated title.
    list_filter = [("task", TaskNameFilter) if name == "task" else name
                   for name in beat_admin.PeriodicTaskAdmin.list_filter]
    # The crontab's description again, with "Translation:" in the request's language.
    change_form_template = "admin/django_celery_beat/periodictask/change_form.html"

    # An admin method wins over the model's property of the same name (list_display keeps "scheduler").
    @admin.display(description=_("Scheduler"))
    def scheduler(self, obj: PeriodicTask):
        return obj.scheduler

    @admin.display(description=_("Crontab translation"))
    def crontab_translation(self, obj: PeriodicTask) -> str | None:
        return crontab_description(crontab=obj.crontab) if obj.crontab else None

    def render_change_form(self, request, context, *args, **kwargs):
        # changeform_view put each crontab's description in the server's locale there, for the crontab select.
        if "readable_crontabs" in context:
            context["readable_crontabs"] = {crontab.id: crontab_description(crontab=crontab)
                                            for crontab in CrontabSchedule.objects.all()}
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.action(description=beat_admin.PeriodicTaskAdmin.run_tasks.short_description)
    def run_tasks(self, request, queryset):
        """django-celery-beat's action, except its error for a task not registered here (an f-string inside gettext,
        so never translated) is ours; as before, then nothing is run."""
        self.celery_app.loader.import_default_modules()
        missing = next((task.task for task in queryset if self.celery_app.tasks.get(task.task) is None), None)
        if missing is not None:
            self.message_user(request, gettext('task "%(task)s" not found') % {"task": missing}, level=messages.ERROR)
            return None
        return super().run_tasks(request, queryset)


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(ScheduleAdminMixin, beat_admin.CrontabScheduleAdmin):
    # list_display and readonly_fields keep "human_readable": this method replaces the model's property there.
    @admin.display(description=_("Human readable"))
    def human_readable(self, obj: CrontabSchedule) -> str:
        return crontab_description(crontab=obj)


@admin.register(IntervalSchedule)
class IntervalScheduleAdmin(ScheduleAdminMixin, beat_admin.IntervalScheduleAdmin):
    pass


@admin.register(SolarSchedule)
class SolarScheduleAdmin(ScheduleAdminMixin, beat_admin.SolarScheduleAdmin):
    pass


@admin.register(ClockedSchedule)
class ClockedScheduleAdmin(ScheduleAdminMixin, beat_admin.ClockedScheduleAdmin):
    pass


PERMISSION_FIELDS = ("permissions", "user_permissions")


class PermissionLabelsMixin:
    """Every many-to-many to Permission in the reader's language (opsportal.lib.permissions): chosen in the form, and
    read as text by a user who may only view (Django's read-only display joins the stored English names)."""

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if db_field.remote_field.model is Permission:
            kwargs["form_class"] = PermissionMultipleChoiceField
        return super().formfield_for_manytomany(db_field, request=request, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [
            (title, {**options, "fields": [f"{name}_as_text" if name in PERMISSION_FIELDS else name
                                           for name in options["fields"]]})
            for title, options in fieldsets
        ]

    def _permissions_as_text(self, permissions) -> str:
        labels = sorted(permission_label(permission) for permission in permissions.select_related("content_type"))
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((label,) for label in labels)))

    @admin.display(description=Group._meta.get_field("permissions").verbose_name)
    def permissions_as_text(self, obj) -> str:
        return self._permissions_as_text(obj.permissions.all())

    @admin.display(description=User._meta.get_field("user_permissions").verbose_name)
    def user_permissions_as_text(self, obj) -> str:
        return self._permissions_as_text(obj.user_permissions.all())


# django.contrib.auth's admins (registered before this module: auth comes first in INSTALLED_APPS), again, with the
# permissions of the group and user forms listed in the reader's language.
admin.site.unregister([Group, User])


@admin.register(Group)
class GroupAdmin(PermissionLabelsMixin, auth_admin.GroupAdmin):
    pass


@admin.register(User)
class UserAdmin(PermissionLabelsMixin, auth_admin.UserAdmin):
    pass
