from __future__ import annotations

from datetime import UTC

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring.messages import render_message
from opsportal.lib.humanize import format_number


class Status(models.TextChoices):
    """Ordered by severity: the overall status of a set of results is the worst of them."""

    OK = "ok", _("ok")
    WARNING = "warning", _("warning")
    CRITICAL = "critical", _("critical")


SEVERITY = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2}


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker on a host reported for a queue: a cheap 'is anyone listening' signal."""

    hostname = models.CharField(_("worker"), max_length=255)
    queue = models.CharField(_("queue"), max_length=100)
    pid = models.PositiveIntegerField(_("process id"), null=True, blank=True)
    last_seen = models.DateTimeField(_("last seen"), db_index=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["-last_seen"]
        constraints = [models.UniqueConstraint(fields=["hostname", "queue"], name="unique_worker_queue_heartbeat")]

    def __str__(self) -> str:
        return f"{self.hostname} ({self.queue})"


class BeatTick(models.Model):
    """The last beat-scheduled heartbeat a worker executed: its age says whether celery beat is alive."""

    name = models.CharField(_("schedule"), max_length=100, unique=True)
    last_tick = models.DateTimeField(_("last tick"))
    hostname = models.CharField(_("executed by"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("beat tick")
        verbose_name_plural = _("beat ticks")

    def __str__(self) -> str:
        return self.name


class HostReport(models.Model):
    """The host checks (disk, memory, cpu, docker) a worker or web process ran on its own host: one row per host."""

    hostname = models.CharField(_("host"), max_length=255, unique=True)
    reported_at = models.DateTimeField(_("reported at"), db_index=True)
    results = models.JSONField(_("results"), default=list)

    class Meta:
        verbose_name = _("host report")
        verbose_name_plural = _("host reports")
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname


class HealthSnapshot(models.Model):
    taken_at = models.DateTimeField(_("taken at"), db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, db_index=True)
    duration_ms = models.FloatField(_("duration (ms)"))

    class Meta:
        verbose_name = _("health snapshot")
        verbose_name_plural = _("health snapshots")
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"{timezone.localtime(self.taken_at):%Y-%m-%d %H:%M} {self.get_status_display()}"


class CheckResult(models.Model):
    snapshot = models.ForeignKey(HealthSnapshot, on_delete=models.CASCADE, related_name="results")
    # Copied from the snapshot so history queries and pruning need no join.
    taken_at = models.DateTimeField(_("taken at"), db_index=True)
    check_name = models.CharField(_("check"), max_length=100)
    host = models.CharField(_("host"), max_length=255, blank=True)
    # The effective severity: a check declared non-critical that reads critical counts (and pages) as a warning.
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    # What the check itself said, kept visible; empty in rows written before it was recorded.
    reported_status = models.CharField(
        _("reported status"), max_length=10, choices=Status.choices, blank=True, default="", db_default="",
        help_text=_("The status the check reported; a non-critical check's critical is stored as a warning."),
    )
    # The text in the portal's language (LANGUAGE_CODE) when it was taken; readers see `display_message`.
    message = models.TextField(_("message"), blank=True)
    # The message as a msgid and its parameters (monitoring.messages): rendered in each reader's language.
    # Empty in rows written before messages had ids, and for plain texts (an exception's): those show `message`.
    message_id = models.TextField(_("message id"), blank=True, default="", db_default="")
    message_params = models.JSONField(_("message parameters"), default=dict, blank=True, db_default={})
    duration_ms = models.FloatField(_("duration (ms)"))
    values = models.JSONField(_("observed values"), default=dict, blank=True)

    class Meta:
        verbose_name = _("check result")
        verbose_name_plural = _("check results")
        ordering = ["check_name", "host"]
        indexes = [models.Index(fields=["check_name", "taken_at"], name="checkresult_check_time")]

    def __str__(self) -> str:
        return f"{self.check_name}@{self.host}" if self.host else self.check_name

    @property
    def display_message(self) -> str:
        """The message in the active language (the stored text for rows without an id)."""
        return render_message(self.message_id, self.message_params, self.message)


class MetricSample(models.Model):
    snapshot = models.ForeignKey(HealthSnapshot, on_delete=models.CASCADE, related_name="samples")
    taken_at = models.DateTimeField(_("taken at"))
    name = models.CharField(_("metric"), max_length=100)
    # Canonical "key=value,key=value" (sorted keys): one series per (name, labels), indexable on every database.
    labels = models.CharField(_("labels"), max_length=255, blank=True)
    value = models.FloatField(_("value"))

    class Meta:
        verbose_name = _("metric sample")
        verbose_name_plural = _("metric samples")
        indexes = [models.Index(fields=["name", "labels", "taken_at"], name="metricsample_series_time")]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}}={format_number(self.value)}"  # a title people read


class MetricRollup(models.Model):
    hour = models.DateTimeField(_("hour"))
    name = models.CharField(_("metric"), max_length=100)
    labels = models.CharField(_("labels"), max_length=255, blank=True)
    count = models.PositiveIntegerField(_("samples"))
    minimum = models.FloatField(_("min"))
    average = models.FloatField(_("avg"))
    maximum = models.FloatField(_("max"))

    class Meta:
        verbose_name = _("hourly metric rollup")
        verbose_name_plural = _("hourly metric rollups")
        ordering = ["-hour", "name", "labels"]
        # Covering (PostgreSQL): a year of one series is an index-only scan in hour order, no heap reads, no sort.
        constraints = [models.UniqueConstraint(fields=["name", "labels", "hour"], name="unique_metric_rollup",
                                               include=["count", "minimum", "average", "maximum"])]
        indexes = [models.Index(fields=["hour"], name="metricrollup_hour")]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} {timezone.localtime(self.hour):%Y-%m-%d %H:00}"


class CheckRollup(models.Model):
    hour = models.DateTimeField(_("hour"))
    check_name = models.CharField(_("check"), max_length=100)
    host = models.CharField(_("host"), max_length=255, blank=True)
    ok_count = models.PositiveIntegerField(_("ok"))
    warning_count = models.PositiveIntegerField(_("warning"))
    critical_count = models.PositiveIntegerField(_("critical"))
    average_duration_ms = models.FloatField(_("avg duration (ms)"))

    class Meta:
        verbose_name = _("hourly check rollup")
        verbose_name_plural = _("hourly check rollups")
        ordering = ["-hour", "check_name", "host"]
        constraints = [
            models.UniqueConstraint(fields=["check_name", "host", "hour"], name="unique_check_rollup",
                                    include=["ok_count", "warning_count", "critical_count"]),
        ]
        indexes = [models.Index(fields=["hour"], name="checkrollup_hour")]

    def __str__(self) -> str:
        return f"{self.check_name} {timezone.localtime(self.hour):%Y-%m-%d %H:00}"


class MetricDailyRollup(models.Model):
    """One UTC day of a metric series, computed from its hourly rollups (the current day is partial until it ends)."""

    day = models.DateTimeField(_("day"))  # UTC midnight, as date_trunc('day', hour, 'UTC')
    name = models.CharField(_("metric"), max_length=100)
    labels = models.CharField(_("labels"), max_length=255, blank=True)
    count = models.PositiveIntegerField(_("samples"))
    minimum = models.FloatField(_("min"))
    average = models.FloatField(_("avg"))
    maximum = models.FloatField(_("max"))

    class Meta:
        verbose_name = _("daily metric rollup")
        verbose_name_plural = _("daily metric rollups")
        ordering = ["-day", "name", "labels"]
        # Covering (PostgreSQL), as the hourly table: a year of one series is 365 rows of one index-only scan.
        constraints = [models.UniqueConstraint(fields=["name", "labels", "day"], name="unique_metric_daily_rollup",
                                               include=["count", "minimum", "average", "maximum"])]
        indexes = [models.Index(fields=["day"], name="metricdailyrollup_day")]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} {self.day.astimezone(UTC):%Y-%m-%d} UTC"


class CheckDailyRollup(models.Model):
    """One UTC day of a check's results, computed from its hourly rollups (the current day is partial)."""

    day = models.DateTimeField(_("day"))  # UTC midnight
    check_name = models.CharField(_("check"), max_length=100)
    host = models.CharField(_("host"), max_length=255, blank=True)
    ok_count = models.PositiveIntegerField(_("ok"))
    warning_count = models.PositiveIntegerField(_("warning"))
    critical_count = models.PositiveIntegerField(_("critical"))
    average_duration_ms = models.FloatField(_("avg duration (ms)"))

    class Meta:
        verbose_name = _("daily check rollup")
        verbose_name_plural = _("daily check rollups")
        ordering = ["-day", "check_name", "host"]
        constraints = [
            models.UniqueConstraint(fields=["check_name", "host", "day"], name="unique_check_daily_rollup",
                                    include=["ok_count", "warning_count", "critical_count"]),
        ]
        indexes = [models.Index(fields=["day"], name="checkdailyrollup_day")]

    def __str__(self) -> str:
        return f"{self.check_name} {self.day.astimezone(UTC):%Y-%m-%d} UTC"
