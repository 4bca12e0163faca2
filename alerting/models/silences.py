from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alerting.models.labels import labels_match, labels_text


class Silence(models.Model):
    """A time window in which matching alerts still change state (and are recorded) but notify nobody.

    Used for maintenance windows and for "I know, I'm on it" from the alert list.
    """

    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    rule = models.ForeignKey(
        "alerting.AlertRule",
        verbose_name=_("rule"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="silences",
        help_text=_("Empty: alerts of any rule."),
    )
    matchers = models.JSONField(
        _("label matchers"),
        default=dict,
        blank=True,
        help_text=_('Alerts whose labels include all of these, e.g. {"host": "db1"}. Empty: all.'),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    comment = models.TextField(_("why"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("silence")
        verbose_name_plural = _("silences")
        ordering = ["-ends_at"]

    def __str__(self) -> str:
        scope = self.rule.name if self.rule_id else gettext("all rules")
        return f"{scope} {{{labels_text(self.matchers)}}}"

    def is_active(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def matches(self, *, rule_id: int, labels: dict[str, str]) -> bool:
        return (self.rule_id is None or self.rule_id == rule_id) and labels_match(labels, self.matchers)

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": gettext("A silence must end after it starts.")})
        if not isinstance(self.matchers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in (self.matchers or {}).items()
        ):
            raise ValidationError({"matchers": gettext('Matchers are an object of text values, e.g. {"host": "db1"}.')})
