"""Admin: rules, channels (with health and a test button), alerts (firing first, silence and acknowledge), silences."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from alerting.forms import AlertRuleForm
from alerting.models import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertState,
    AlertTransition,
    ChannelKind,
    Delivery,
    NotificationChannel,
    Silence,
)
from alerting.selectors import alerts_by_urgency
from alerting.services import alert_acknowledge, channel_test_send, silence_create_for_alerts
from opsportal.lib.admin_display import HumanNumbersMixin, status_column
from opsportal.lib.forms import HumanDurationField
from opsportal.lib.humanize import status_badge
from opsportal.lib.secrets_at_rest import mask

OBSERVED_VALUE = ("number", _("observed value"))


class ReadOnlyAdmin(HumanNumbersMixin, admin.ModelAdmin):
    """Records written only by the services: visible, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm  # only the chosen kind's fields, shown and accepted (alerting/forms.py)
    formfield_overrides = {models.DurationField: {"form_class": HumanDurationField}}  # 5m, 1h30m, HH:MM:SS
    list_display = ["name", "condition_text", "for_duration", "severity", "repeat_interval", "enabled", "is_default"]
    list_filter = ["kind", "severity", "enabled"]
    search_fields = ["name", "metric_name", "check_name", "event_name"]
    filter_horizontal = ["channels"]
    fieldsets = [
        (None, {"fields": ["name", "description", "enabled", "severity"]}),
        (
            _("Condition"),
            {
                "fields": [
                    "kind",
                    ("metric_name", "comparator", "threshold"),
                    ("check_name", "check_status"),
                    "event_name",
                    "label_matchers",
                ]
            },
        ),
        (_("Timing"), {"fields": ["for_duration", "resolve_after", "repeat_interval"]}),
        (_("Notifications"), {"fields": ["channels", "notify_on_resolve"]}),
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        from alerting.observations import known_events, known_metrics

        form = super().get_form(request, obj, change=change, **kwargs)
        form.base_fields["metric_name"].help_text = gettext("Known metrics: %(names)s") % {
            "names": ", ".join(known_metrics())
        }
        form.base_fields["event_name"].help_text = gettext("Known events: %(names)s") % {
            "names": ", ".join(known_events())
        }
        return form

    @admin.display(description=_("default"), boolean=True)
    def is_default(self, rule: AlertRule) -> bool:
        return rule.key is not None


class NotificationChannelForm(forms.ModelForm):
    # Write-only: the stored URL (it may hold a password or a token) is never rendered back; the page shows it masked.
    url = forms.CharField(
        label=_("Apprise URL"),
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 80}),
        help_text=NotificationChannel._meta.get_field("url").help_text,
    )

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "url", "language", "enabled"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["url"] = ""
        if self.instance.pk and (self.instance.url or self.instance.url_is_unreadable):
            self.fields["url"].help_text = _("Stored encrypted. Leave empty to keep the current URL.")

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("url") and self.instance.pk and data.get("kind") == ChannelKind.APPRISE:
            data["url"] = self.instance.url  # kept as stored, even if it cannot be decrypted (clean() then says so)
        return data


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = NotificationChannelForm
    list_display = ["name", "kind", "language", "enabled", "health", "last_success_at", "last_failure_at"]
    list_filter = ["kind", "enabled", "language"]
    readonly_fields = ["stored_url", "consecutive_failures", "last_success_at", "last_failure_at", "last_error"]

    @admin.display(description=_("stored URL"))
    def stored_url(self, channel: NotificationChannel) -> str:
        if channel.url_is_unreadable:
            return gettext("cannot be decrypted with SECRET_KEY or SECRET_KEY_FALLBACKS; enter it again")
        return mask(channel.url) or "—"
    actions = ["send_test_notification"]

    @admin.display(description=_("health"))
    def health(self, channel: NotificationChannel) -> str:
        if channel.is_failing:
            return format_html(
                '<strong class="channel-failing" title="{}">{}</strong>',
                channel.last_error,
                ngettext(
                    "failing (%(n)d failure in a row)",
                    "failing (%(n)d failures in a row)",
                    channel.consecutive_failures,
                )
                % {"n": channel.consecutive_failures},
            )
        return gettext("ok") if channel.last_success_at else gettext("not used yet")

    @admin.action(description=_("Send test notification"), permissions=["change"])
    def send_test_notification(self, request, queryset):
        from alerting.tasks import deliver

        for channel in queryset:
            delivery = channel_test_send(channel=channel)
            transaction.on_commit(lambda pk=delivery.pk: deliver.delay(pk))
        count = queryset.count()
        self.message_user(
            request,
            ngettext(
                "Test notification queued for %(n)d channel; see its delivery for the outcome.",
                "Test notifications queued for %(n)d channels; see their deliveries for the outcome.",
                count,
            )
            % {"n": count},
            messages.SUCCESS,
        )


class TransitionInline(HumanNumbersMixin, admin.TabularInline):
    model = AlertTransition
    human_numbers = {"value": ("number", _("value"))}
    new_state_badge = status_column("new_state", _("new state"), kind="alert")
    fields = ["happened_at", "old_state", "new_state_badge", "value", "silenced", "notified", "processed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-happened_at", "-id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["rule", "labels_display", "state_badge", "severity", "age", "last_value", "acknowledged"]
    human_numbers = {"last_value": OBSERVED_VALUE}
    state_badge = status_column("state", _("state"), kind="alert")
    list_filter = ["state", "rule__severity", "rule"]
    search_fields = ["rule__name", "labels"]
    readonly_fields = [
        "rule",
        "labels",
        "state",
        "active_since",
        "fired_at",
        "resolved_at",
        "last_value",
        "last_message",
        "last_observed_at",
        "last_notified_at",
        "acknowledged_at",
        "acknowledged_by",
    ]
    exclude = ["clear_since"]
    inlines = [TransitionInline]
    actions = ["silence_1h", "silence_24h", "acknowledge"]

    def get_queryset(self, request):
        return alerts_by_urgency(super().get_queryset(request))

    def get_ordering(self, request):
        return []  # alerts_by_urgency's order: firing first, critical first, oldest first

    @admin.display(description=_("severity"), ordering="severity_rank")
    def severity(self, alert: Alert) -> str:
        return status_badge(alert.rule.severity, alert.rule.get_severity_display(), kind="alert")

    @admin.display(description=_("age"), ordering="active_since")
    def age(self, alert: Alert) -> str:
        if alert.state == AlertState.RESOLVED or alert.active_since is None:
            return "-"
        return timesince(alert.active_since, timezone.now())

    @admin.display(description=_("acknowledged"), boolean=True)
    def acknowledged(self, alert: Alert) -> bool:
        return alert.acknowledged_at is not None

    def _silence(self, request, queryset, hours: int) -> None:
        silences = silence_create_for_alerts(
            alerts=queryset,
            duration=timedelta(hours=hours),
            user=request.user,
            comment=gettext("Silenced for %(hours)d h from the alert list") % {"hours": hours},
            now=timezone.now(),
        )
        self.message_user(
            request,
            ngettext("%(n)d alert silenced for %(hours)d h.", "%(n)d alerts silenced for %(hours)d h.", len(silences))
            % {"n": len(silences), "hours": hours},
            messages.SUCCESS,
        )

    def has_silence_permission(self, request) -> bool:
        # Silencing and acknowledging need the right to create silences, not merely to look at alerts.
        return request.user.has_perm("alerting.add_silence")

    @admin.action(description=_("Silence for 1 h"), permissions=["silence"])
    def silence_1h(self, request, queryset):
        self._silence(request, queryset, 1)

    @admin.action(description=_("Silence for 24 h"), permissions=["silence"])
    def silence_24h(self, request, queryset):
        self._silence(request, queryset, 24)

    @admin.action(description=_("Acknowledge (no more reminders until resolved)"), permissions=["silence"])
    def acknowledge(self, request, queryset):
        count = alert_acknowledge(alerts=queryset, user=request.user, now=timezone.now())
        self.message_user(
            request,
            ngettext("%(n)d firing alert acknowledged.", "%(n)d firing alerts acknowledged.", count) % {"n": count},
            messages.SUCCESS,
        )


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "starts_at", "ends_at", "active", "created_by", "comment"]
    list_filter = ["rule"]
    list_select_related = ["rule", "created_by"]
    readonly_fields = ["created_by"]

    @admin.display(description=_("active"), boolean=True)
    def active(self, silence: Silence) -> bool:
        return silence.is_active(timezone.now())

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "transition", "status_badge", "attempts", "duration_ms", "error"]
    human_numbers = {"duration_ms": ("ms", _("duration"))}
    status_badge = status_column("status", _("status"), kind="delivery")
    list_select_related = ["channel", "transition__alert__rule"]
    list_filter = ["status", "channel"]


@admin.register(AlertTransition)
class AlertTransitionAdmin(ReadOnlyAdmin):
    list_display = ["happened_at", "alert", "old_state_badge", "new_state_badge", "value", "silenced", "notified",
                    "processed_at"]
    human_numbers = {"value": ("number", _("value"))}
    old_state_badge = status_column("old_state", _("old state"), kind="alert")
    new_state_badge = status_column("new_state", _("new state"), kind="alert")
    list_filter = ["new_state", "silenced"]
    list_select_related = ["alert__rule"]


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "event", "labels", "message", "value"]
    human_numbers = {"value": ("number", _("value"))}
    list_filter = ["event"]
