from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from opsportal.lib.admin_display import HumanNumbersMixin, status_column
from opsportal.lib.humanize import format_milliseconds, format_whole_milliseconds
from performance.credentials import encrypt_password
from performance.models import PerfResult, PerfRollup, PerfTarget, RequestRollup, RequestStat


class PerfTargetForm(forms.ModelForm):
    # Write-only: the stored password is never rendered back, not even encrypted.
    login_password = forms.CharField(
        label=_("Service user's password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted. Leave empty to keep the current password."),
    )
    clear_login_password = forms.BooleanField(label=_("Forget the stored password"), required=False)

    class Meta:
        model = PerfTarget
        fields = [
            "name",
            "kind",
            "url",
            "url_name",
            "method",
            "expected_status",
            "budget_ms",
            "samples",
            "enabled",
            "login_username",
        ]

    def save(self, commit: bool = True) -> PerfTarget:
        target = super().save(commit=False)
        if self.cleaned_data.get("clear_login_password"):
            target.login_password_encrypted = b""
        elif self.cleaned_data.get("login_password"):
            target.login_password_encrypted = encrypt_password(self.cleaned_data["login_password"])
        if commit:
            target.save()
        return target


@admin.action(description=_("Probe the selected targets now"), permissions=["change"])
def probe_now(modeladmin, request, queryset):
    from performance.services import perf_target_probes_enqueue

    count = perf_target_probes_enqueue(target_ids=queryset.values_list("pk", flat=True))
    message = ngettext("%(count)d probe queued.", "%(count)d probes queued.", count) % {"count": count}
    modeladmin.message_user(request, message)


class BudgetFilter(admin.SimpleListFilter):
    title = _("budget")
    parameter_name = "budget"

    def lookups(self, request, model_admin):
        return [
            ("failing", _("Failing")),
            ("breached", _("Breached")),
            ("within", _("Within budget")),
            ("unmeasured", _("Not measured yet")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(failing_since__isnull=False)
        if self.value() == "breached":
            return queryset.filter(breached_since__isnull=False)
        if self.value() == "within":
            return queryset.filter(breached_since__isnull=True, failing_since__isnull=True, last_p95_ms__isnull=False)
        if self.value() == "unmeasured":
            return queryset.filter(failing_since__isnull=True, breached_since__isnull=True, last_p95_ms__isnull=True)
        return queryset


@admin.register(PerfTarget)
class PerfTargetAdmin(admin.ModelAdmin):
    form = PerfTargetForm
    list_display = ["name", "kind", "address", "p95_vs_budget", "last_evaluated_at", "enabled", "source"]
    list_filter = [BudgetFilter, "kind", "enabled"]
    search_fields = ["name", "url", "url_name"]
    actions = [probe_now]
    readonly_fields = [
        "has_password",
        "source",
        "p95_vs_budget",
        "breached_since",
        "failing_since",
        "last_error",
        "last_probed_at",
        "last_evaluated_at",
    ]

    @admin.display(description=_("URL"))
    def address(self, target: PerfTarget) -> str:
        return target.url or target.url_name

    @admin.display(description=_("p95 vs budget"), ordering="last_p95_ms")
    def p95_vs_budget(self, target: PerfTarget) -> str:
        if target.budget_ms is None:  # the add form's empty target
            return "—"
        # Whole ms on both sides, as the operator typed the budget, so the two compare at a glance.
        budget = format_whole_milliseconds(target.budget_ms)
        p95 = "-" if target.last_p95_ms is None else format_whole_milliseconds(target.last_p95_ms)
        state = target.state
        if state == PerfTarget.State.FAILING:
            return format_html(
                '<strong class="perf-failing" style="color:#ba2121" title="{}">&#10006; {} / {} ({})</strong>',
                target.last_error,
                p95,
                budget,
                gettext("failing"),
            )
        if state == PerfTarget.State.OVER_BUDGET:
            return format_html(
                '<strong class="perf-breached" style="color:#ba2121">&#10006; {} / {} ({})</strong>',
                p95,
                budget,
                gettext("breached"),
            )
        if state == PerfTarget.State.NOT_MEASURED:
            return format_html(
                '<span class="perf-unmeasured" style="color:#767676">{} / {} ({})</span>',
                p95,
                budget,
                gettext("not measured yet"),
            )
        return format_html('<span class="perf-ok" style="color:#2e7d32">{} / {}</span>', p95, budget)

    @admin.display(description=_("password stored"), boolean=True)
    def has_password(self, target: PerfTarget) -> bool:
        return bool(target.login_password_encrypted)


class ReadOnlyAdmin(HumanNumbersMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PerfResult)
class PerfResultAdmin(ReadOnlyAdmin):
    list_display = ["measured_at", "target", "outcome_badge", "http_status", "duration_ms", "ttfb_ms", "lcp_ms",
                    "error"]
    human_numbers = {
        "duration_ms": ("ms", _("duration")),
        "ttfb_ms": ("ms", _("time to first byte")),
        "dom_content_loaded_ms": ("ms", _("DOMContentLoaded")),
        "load_ms": ("ms", _("load event")),
        "lcp_ms": ("ms", _("largest contentful paint")),
    }
    outcome_badge = status_column("outcome", _("outcome"), kind="perf")
    list_filter = ["target", ("measured_at", admin.DateFieldListFilter), "outcome"]
    date_hierarchy = "measured_at"
    list_select_related = ["target"]


@admin.register(PerfRollup)
class PerfRollupAdmin(ReadOnlyAdmin):
    list_display = ["hour", "target", "count", "failures", "p50_ms", "p95_ms", "p99_ms", "max_ms"]
    human_numbers = {"p50_ms": ("ms", _("p50")), "p95_ms": ("ms", _("p95")), "p99_ms": ("ms", _("p99")),
                     "max_ms": ("ms", _("max"))}
    list_filter = ["target", ("hour", admin.DateFieldListFilter)]
    date_hierarchy = "hour"
    list_select_related = ["target"]


@admin.register(RequestStat)
class RequestStatAdmin(ReadOnlyAdmin):
    list_display = ["minute", "method", "route", "status_class", "count", "mean_ms", "max_ms"]
    list_filter = ["status_class", "method", ("minute", admin.DateFieldListFilter)]
    search_fields = ["route"]
    date_hierarchy = "minute"
    human_numbers = {"sum_ms": ("ms", _("total time")), "max_ms": ("ms", _("max"))}

    @admin.display(description=_("avg"))
    def mean_ms(self, stat: RequestStat) -> str:
        return format_milliseconds(stat.mean_ms)


@admin.register(RequestRollup)
class RequestRollupAdmin(ReadOnlyAdmin):
    list_display = ["hour", "count", "mean_ms", "max_ms"]
    list_filter = [("hour", admin.DateFieldListFilter)]
    date_hierarchy = "hour"
    human_numbers = {"sum_ms": ("ms", _("total time")), "max_ms": ("ms", _("max"))}

    @admin.display(description=_("avg"))
    def mean_ms(self, rollup: RequestRollup) -> str:
        return format_milliseconds(rollup.mean_ms)
