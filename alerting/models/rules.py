from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alerting.models.labels import labels_text


class RuleKind(models.TextChoices):
    METRIC = "metric", _("metric above or below a threshold")
    CHECK = "check", _("health check status")
    EVENT = "event", _("event")


class Comparator(models.TextChoices):
    GT = "gt", ">"
    GE = "ge", "≥"
    LT = "lt", "<"
    LE = "le", "≤"


class Severity(models.TextChoices):
    # Ordered by urgency: the admin lists critical alerts first.
    CRITICAL = "critical", _("critical")
    WARNING = "warning", _("warning")
    INFO = "info", _("info")


class CheckStatus(models.TextChoices):
    WARNING = "warning", _("warning or worse")
    CRITICAL = "critical", _("critical")


COMPARE = {
    Comparator.GT: lambda value, threshold: value > threshold,
    Comparator.GE: lambda value, threshold: value >= threshold,
    Comparator.LT: lambda value, threshold: value < threshold,
    Comparator.LE: lambda value, threshold: value <= threshold,
}
STATUS_RANK = {"ok": 0, "warning": 1, "critical": 2}


class AlertRule(models.Model):
    """What to watch, how long the condition must hold before it fires, whom to tell and how often."""

    key = models.CharField(
        _("default rule key"),
        max_length=100,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text=_("Set on the default rules so they are created once and never overwritten."),
    )
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("watches"), max_length=10, choices=RuleKind.choices, default=RuleKind.METRIC)
    metric_name = models.CharField(_("metric"), max_length=200, blank=True)
    comparator = models.CharField(_("comparator"), max_length=2, choices=Comparator.choices, default=Comparator.GT)
    threshold = models.FloatField(_("threshold"), null=True, blank=True)
    check_name = models.CharField(_("check"), max_length=200, blank=True, help_text=_("Empty: any health check."))
    check_status = models.CharField(
        _("check status"), max_length=10, choices=CheckStatus.choices, default=CheckStatus.CRITICAL
    )
    event_name = models.CharField(_("event"), max_length=200, blank=True)
    label_matchers = models.JSONField(
        _("label matchers"),
        default=dict,
        blank=True,
        help_text=_('Only label sets with exactly these labels, e.g. {"path": "/"}. Empty: all.'),
    )
    for_duration = models.DurationField(
        _("for"), default=timedelta(0), help_text=_("How long the condition must hold before the alert fires.")
    )
    resolve_after = models.DurationField(
        _("minimum resolve time"),
        default=timedelta(minutes=1),
        help_text=_(
            "How long the condition must stay clear before a firing alert resolves (damps flapping). For event "
            "rules: the alert resolves when no matching event arrived for this long."
        ),
    )
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.WARNING)
    channels = models.ManyToManyField(
        "alerting.NotificationChannel",
        verbose_name=_("channels"),
        blank=True,
        related_name="rules",
        help_text=_("Empty: every enabled channel."),
    )
    repeat_interval = models.DurationField(
        _("repeat interval"),
        null=True,
        blank=True,
        default=timedelta(hours=4),
        help_text=_("Notify again while still firing after this long. Empty: never repeat."),
    )
    notify_on_resolve = models.BooleanField(_("notify on resolve"), default=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["name"]

    def __str__(self) -> str:
        # A default rule's stored English name is in the catalog (defaults.py); an edited name has no entry.
        return gettext(self.name)

    def condition_text(self) -> str:
        if self.kind == RuleKind.METRIC:
            text = f"{self.metric_name} {self.get_comparator_display()} {self.threshold:g}"
        elif self.kind == RuleKind.CHECK:
            text = gettext("check %(check)s is %(status)s") % {
                "check": self.check_name or "*",
                "status": self.get_check_status_display(),
            }
        else:
            text = gettext("event %(event)s") % {"event": self.event_name}
        if self.label_matchers:
            text += f" {{{labels_text(self.label_matchers)}}}"
        return text

    condition_text.short_description = _("condition")

    def clean(self) -> None:
        from alerting.observations import known_events, known_metrics

        errors: dict[str, str] = {}
        for field in ("for_duration", "resolve_after", "repeat_interval"):
            value = getattr(self, field)
            if value is not None and value < timedelta(0):
                errors[field] = gettext("A duration cannot be negative.")
        if self.repeat_interval is not None and self.repeat_interval == timedelta(0):
            errors["repeat_interval"] = gettext("Leave empty to never repeat; zero would notify on every evaluation.")
        if self.kind == RuleKind.METRIC:
            metrics = known_metrics()
            if not self.metric_name:
                errors["metric_name"] = gettext("A metric rule needs a metric.")
            elif self.metric_name not in metrics:
                errors["metric_name"] = gettext("Unknown metric “%(name)s”. Known metrics: %(known)s.") % {
                    "name": self.metric_name,
                    "known": ", ".join(metrics) or "-",
                }
            if self.threshold is None:
                errors["threshold"] = gettext("A metric rule needs a threshold.")
        elif self.kind == RuleKind.EVENT:
            events = known_events()
            if self.event_name not in events:
                errors["event_name"] = gettext("Unknown event “%(name)s”. Known events: %(known)s.") % {
                    "name": self.event_name,
                    "known": ", ".join(events) or "-",
                }
            if self.resolve_after is not None and self.resolve_after <= timedelta(0):
                errors["resolve_after"] = gettext(
                    "An event rule needs a minimum resolve time: the alert resolves after that long without events."
                )
        if not isinstance(self.label_matchers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in (self.label_matchers or {}).items()
        ):
            errors["label_matchers"] = gettext('Label matchers are an object of text values, e.g. {"path": "/"}.')
        if errors:
            raise ValidationError(errors)
