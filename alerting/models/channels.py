from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opsportal.lib.secrets_at_rest import EncryptedTextField, UnreadableSecret

URL_PURPOSE = "opsportal.alerting.channel-url.v1"


class ChannelKind(models.TextChoices):
    APPRISE = "apprise", _("Apprise URL (email, Slack, Teams, webhook, ntfy, ...)")
    DJANGO_ADMINS = "admins", _("Django ADMINS by email")


class NotificationChannel(models.Model):
    """Where notifications go. The failure counters make a channel that keeps failing visible in the admin."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=ChannelKind.choices, default=ChannelKind.APPRISE)
    # Encrypted at rest (Fernet, key derived from SECRET_KEY); the attribute is the plain URL.
    url = EncryptedTextField(
        _("Apprise URL"),
        purpose=URL_PURPOSE,
        max_length=2000,
        blank=True,
        help_text=_(
            "For example mailto://user:password@smtp.example.com?to=ops@example.com, slack://..., msteams://..., "
            "json://hooks.example.com/alerts, ntfy://ntfy.sh/topic. May hold a secret: stored encrypted, never shown "
            "again."
        ),
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_("Language of the messages sent to this channel."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0, editable=False)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True, editable=False)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_failing(self) -> bool:
        return self.consecutive_failures > 0

    @property
    def url_is_unreadable(self) -> bool:
        """The stored URL was encrypted under a key that is neither SECRET_KEY nor in SECRET_KEY_FALLBACKS."""
        return isinstance(self.url, UnreadableSecret)

    def clean(self) -> None:
        if self.url_is_unreadable:
            raise ValidationError({"url": gettext("The stored URL cannot be decrypted; enter it again.")})
        if self.kind == ChannelKind.APPRISE:
            import apprise

            if not self.url:
                raise ValidationError({"url": gettext("An Apprise channel needs a URL.")})
            if not apprise.Apprise().add(self.url):
                raise ValidationError(
                    {"url": gettext("Apprise does not understand this URL; see the Apprise wiki for its services.")}
                )
        elif self.url:
            raise ValidationError({"url": gettext("The Django ADMINS channel takes no URL; it mails ADMINS.")})


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")
    RETRYING = "retrying", _("failed, will retry")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class Delivery(models.Model):
    """One notification of one transition to one channel, with its attempts. Unique per (transition, channel)."""

    channel = models.ForeignKey(
        NotificationChannel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="deliveries"
    )
    transition = models.ForeignKey(
        "alerting.AlertTransition",
        verbose_name=_("transition"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
        help_text=_("Empty for a test notification."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.FloatField(_("duration (ms)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["transition", "channel"], name="unique_delivery_per_transition_channel")
        ]

    def __str__(self) -> str:
        what = f"#{self.transition_id}" if self.transition_id else gettext("test")
        return f"{self.channel} {what}: {self.get_status_display()}"
