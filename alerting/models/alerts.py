from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from alerting.models.labels import labels_text


class AlertState(models.TextChoices):
    PENDING = "pending", _("pending")
    FIRING = "firing", _("firing")
    RESOLVED = "resolved", _("resolved")


class Alert(models.Model):
    """The state of one rule for one label set (one disk path, one host, one check). One row, reused over episodes.

    State changes only through conditional UPDATEs on (state, version), so two evaluators racing over the same
    observations produce exactly one transition.
    """

    rule = models.ForeignKey(
        "alerting.AlertRule", verbose_name=_("rule"), on_delete=models.CASCADE, related_name="alerts"
    )
    labels = models.JSONField(_("labels"), default=dict)
    labels_key = models.CharField(max_length=64, editable=False)
    state = models.CharField(_("state"), max_length=10, choices=AlertState.choices, default=AlertState.PENDING)
    version = models.PositiveIntegerField(default=0, editable=False)
    active_since = models.DateTimeField(_("condition holds since"), null=True, blank=True)
    clear_since = models.DateTimeField(_("condition clear since"), null=True, blank=True)
    fired_at = models.DateTimeField(_("fired"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    last_value = models.FloatField(_("observed value"), null=True, blank=True)
    last_message = models.TextField(_("observed message"), blank=True)
    last_observed_at = models.DateTimeField(_("last observed"), null=True, blank=True)
    last_notified_at = models.DateTimeField(_("last notified"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [models.UniqueConstraint(fields=["rule", "labels_key"], name="unique_alert_per_rule_labels")]
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"{self.rule} {{{labels_text(self.labels)}}}"

    @property
    def labels_display(self) -> str:
        return labels_text(self.labels)

    labels_display.fget.short_description = _("labels")  # the alert list's column header


class AlertTransition(models.Model):
    """One state change of an alert (or a repeat reminder while firing: firing → firing), like healthchecks' Flip.

    `processed_at` is claimed with a conditional UPDATE by whoever sends its notifications, so it is sent once.
    """

    alert = models.ForeignKey(Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="transitions")
    old_state = models.CharField(_("old state"), max_length=10, choices=AlertState.choices, blank=True)
    new_state = models.CharField(_("new state"), max_length=10, choices=AlertState.choices)
    happened_at = models.DateTimeField(_("happened"), db_index=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True, db_index=True)
    value = models.FloatField(_("observed value"), null=True, blank=True)
    message = models.TextField(_("observed message"), blank=True)
    silenced = models.BooleanField(_("silenced"), default=False)
    notified = models.BooleanField(_("notified"), default=False)

    class Meta:
        verbose_name = _("alert transition")
        verbose_name_plural = _("alert transitions")
        ordering = ["-happened_at", "-id"]

    def __str__(self) -> str:
        return f"{self.alert}: {self.get_old_state_display() or '-'} → {self.get_new_state_display()}"

    @property
    def is_reminder(self) -> bool:
        return self.old_state == self.new_state == AlertState.FIRING


class AlertEvent(models.Model):
    """Something that happened once (a backup failed, a budget was breached); event rules watch these."""

    event = models.CharField(_("event"), max_length=200)
    labels = models.JSONField(_("labels"), default=dict)
    message = models.TextField(_("message"), blank=True)
    value = models.FloatField(_("value"), null=True, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")
        ordering = ["-at"]
        indexes = [models.Index(fields=["event", "at"])]

    def __str__(self) -> str:
        return f"{self.event} {{{labels_text(self.labels)}}}"
