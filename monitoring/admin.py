from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from monitoring.models import (
    BeatTick,
    CheckDailyRollup,
    CheckResult,
    CheckRollup,
    HealthSnapshot,
    HostReport,
    MetricDailyRollup,
    MetricRollup,
    MetricSample,
    WorkerHeartbeat,
)
from opsportal.lib.admin_display import HumanNumbersMixin, status_column

DURATION = ("ms", _("duration"))
AVERAGE_DURATION = ("ms", _("average duration"))
METRIC_RANGE = {"minimum": ("number", _("min")), "average": ("number", _("avg")), "maximum": ("number", _("max"))}


@admin.display(description=_("message"))
def message_text(result: CheckResult) -> str:
    """In the reader's language (monitoring.messages); rows written before messages had ids show their text."""
    return result.display_message


class ReadOnlyAdmin(HumanNumbersMixin, admin.ModelAdmin):
    """History is written by the checks only."""

    status_badge = status_column("status", _("status"), kind="health")
    reported_status_badge = status_column("reported_status", _("reported status"), kind="health")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["hostname", "queue", "pid", "last_seen"]
    list_filter = ["queue"]
    search_fields = ["hostname"]


@admin.register(BeatTick)
class BeatTickAdmin(ReadOnlyAdmin):
    list_display = ["name", "last_tick", "hostname"]


@admin.register(HostReport)
class HostReportAdmin(ReadOnlyAdmin):
    list_display = ["hostname", "reported_at"]
    search_fields = ["hostname"]


class CheckResultInline(HumanNumbersMixin, admin.TabularInline):
    model = CheckResult
    human_numbers = {"duration_ms": DURATION}
    status_badge = status_column("status", _("status"), kind="health")
    message_text = staticmethod(message_text)
    fields = ["check_name", "host", "status_badge", "reported_status", "message_text", "duration_ms", "values"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class SnapshotCheckFilter(admin.SimpleListFilter):
    title = _("failing check")
    parameter_name = "failing"

    def lookups(self, request, model_admin):
        names = CheckResult.objects.values_list("check_name", flat=True).distinct().order_by("check_name")
        return [(name, name) for name in names[:50]]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(results__check_name=self.value(), results__status__in=["warning", "critical"])
        return queryset


@admin.register(HealthSnapshot)
class HealthSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["taken_at", "status_badge", "duration_ms"]
    human_numbers = {"duration_ms": DURATION}
    list_filter = ["status", ("taken_at", admin.DateFieldListFilter), SnapshotCheckFilter]
    date_hierarchy = "taken_at"
    inlines = [CheckResultInline]
    # Counting millions of rows on every page would make the changelist slow with a year of history.
    show_full_result_count = False


@admin.register(CheckResult)
class CheckResultAdmin(ReadOnlyAdmin):
    list_display = ["taken_at", "check_name", "host", "status_badge", "reported_status_badge", "message_text",
                    "duration_ms"]
    human_numbers = {"duration_ms": DURATION}
    list_filter = ["status", "check_name", "host", ("taken_at", admin.DateFieldListFilter)]
    search_fields = ["message"]
    show_full_result_count = False
    message_text = staticmethod(message_text)


@admin.register(MetricSample)
class MetricSampleAdmin(ReadOnlyAdmin):
    list_display = ["taken_at", "name", "labels", "value"]
    human_numbers = {"value": ("number", _("value"))}
    list_filter = ["name"]
    show_full_result_count = False


@admin.register(MetricRollup)
class MetricRollupAdmin(ReadOnlyAdmin):
    list_display = ["hour", "name", "labels", "count", "minimum", "average", "maximum"]
    human_numbers = METRIC_RANGE
    list_filter = ["name", ("hour", admin.DateFieldListFilter)]
    show_full_result_count = False


@admin.register(CheckRollup)
class CheckRollupAdmin(ReadOnlyAdmin):
    list_display = ["hour", "check_name", "host", "ok_count", "warning_count", "critical_count",
                    "average_duration_ms"]
    human_numbers = {"average_duration_ms": AVERAGE_DURATION}
    list_filter = ["check_name", "host", ("hour", admin.DateFieldListFilter)]
    show_full_result_count = False


@admin.register(MetricDailyRollup)
class MetricDailyRollupAdmin(ReadOnlyAdmin):
    list_display = ["day", "name", "labels", "count", "minimum", "average", "maximum"]
    human_numbers = METRIC_RANGE
    list_filter = ["name", ("day", admin.DateFieldListFilter)]
    show_full_result_count = False


@admin.register(CheckDailyRollup)
class CheckDailyRollupAdmin(ReadOnlyAdmin):
    list_display = ["day", "check_name", "host", "ok_count", "warning_count", "critical_count",
                    "average_duration_ms"]
    human_numbers = {"average_duration_ms": AVERAGE_DURATION}
    list_filter = ["check_name", "host", ("day", admin.DateFieldListFilter)]
    show_full_result_count = False
