"""Performance targets, their probe results and hourly rollups, and the request timing of real traffic."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DEFAULT_BUDGET_MS = {"api": 1000, "page": 3000}


class PerfTarget(models.Model):
    """Something the portal measures on a schedule: an API endpoint (httpx) or a page (headless Chromium)."""

    class Kind(models.TextChoices):
        API = "api", _("API")
        PAGE = "page", _("Page")

    class State(models.TextChoices):
        """What the overview, the admin, the metrics and alerting say of a target (see `state`)."""

        NOT_MEASURED = "not_measured", _("not measured yet")
        WITHIN_BUDGET = "within_budget", _("within budget")
        OVER_BUDGET = "over_budget", _("over budget")
        FAILING = "failing", _("failing")

    name = models.CharField(_("name"), max_length=150, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.API)
    url = models.CharField(
        _("URL"),
        max_length=500,
        blank=True,
        help_text=_("An absolute URL, or a path such as /api/system/health/live relative to the portal's base URL."),
    )
    url_name = models.CharField(
        _("URL name"), max_length=200, blank=True, help_text=_("A Django URL name such as admin:index, used if no URL.")
    )
    method = models.CharField(_("method"), max_length=10, default="GET")
    expected_status = models.PositiveSmallIntegerField(_("expected status"), default=200)
    budget_ms = models.PositiveIntegerField(
        _("budget (ms)"),
        blank=True,
        help_text=_("Leave empty for the default: 1000 ms for an API, 3000 ms for a page."),
    )
    samples = models.PositiveSmallIntegerField(_("samples per probe"), default=3)
    enabled = models.BooleanField(_("enabled"), default=True)
    login_username = models.CharField(
        _("service user"), max_length=150, blank=True, help_text=_("Pages behind login: the user the probe logs in as.")
    )
    # Fernet-encrypted with a key derived from SECRET_KEY (performance/credentials.py); never shown, never logged.
    login_password_encrypted = models.BinaryField(_("encrypted password"), blank=True, default=b"", editable=False)
    source = models.CharField(
        _("declared by"),
        max_length=200,
        blank=True,
        help_text=_("The perf.py module that declared it; empty if added by hand."),
    )
    breached_since = models.DateTimeField(_("budget breached since"), null=True, blank=True)
    last_p95_ms = models.FloatField(_("p95 over the window (ms)"), null=True, blank=True)
    last_evaluated_at = models.DateTimeField(_("last evaluated"), null=True, blank=True)
    # A round is one probe's samples; it failed if any sample did (refused, timed out, unexpected status).
    last_probed_at = models.DateTimeField(_("last probed"), null=True, blank=True)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # Claimed with a conditional UPDATE so overlapping beat runs never probe one target twice at once.
    probing_since = models.DateTimeField(_("probing since"), null=True, blank=True)

    class Meta:
        verbose_name = _("performance target")
        verbose_name_plural = _("performance targets")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(url="", url_name=""), name="perf_target_has_url_or_url_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # the password is deliberately absent
        return f"<PerfTarget {self.name!r} {self.kind}>"

    def save(self, *args, **kwargs) -> None:
        if not self.budget_ms:
            self.budget_ms = DEFAULT_BUDGET_MS[self.kind]
        self.method = (self.method or "GET").upper()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError
        from django.urls import NoReverseMatch, reverse

        if self.url_name and not self.url:
            try:
                reverse(self.url_name)
            except NoReverseMatch:
                raise ValidationError(
                    {"url_name": _("No URL has the name %(name)s.") % {"name": self.url_name}}
                ) from None

    @property
    def state(self) -> PerfTarget.State:
        """Failing (last round failed) outranks over budget; with no successful sample, nothing is "within"."""
        if self.failing_since is not None:
            return self.State.FAILING
        if self.breached_since is not None:
            return self.State.OVER_BUDGET
        if self.last_p95_ms is None:
            return self.State.NOT_MEASURED
        return self.State.WITHIN_BUDGET

    @property
    def is_up(self) -> bool | None:
        """Whether the last probe round succeeded; None before the first round."""
        if self.last_probed_at is None:
            return None
        return self.failing_since is None

    @property
    def has_credentials(self) -> bool:
        return bool(self.login_username and self.login_password_encrypted)


class PerfResult(models.Model):
    """One sample of one probe: a single request (API) or a single page load (page)."""

    class Outcome(models.TextChoices):
        OK = "ok", _("OK")
        FAILED = "failed", _("Failed")
        UNAVAILABLE = "unavailable", _("Browser unavailable")

    target = models.ForeignKey(PerfTarget, on_delete=models.CASCADE, related_name="results", verbose_name=_("target"))
    measured_at = models.DateTimeField(_("measured at"), db_index=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    # duration_ms is what the budget is compared with: total time for an API, the load event for a page.
    duration_ms = models.FloatField(_("duration (ms)"), null=True, blank=True)
    ttfb_ms = models.FloatField(_("time to first byte (ms)"), null=True, blank=True)
    dom_content_loaded_ms = models.FloatField(_("DOMContentLoaded (ms)"), null=True, blank=True)
    load_ms = models.FloatField(_("load event (ms)"), null=True, blank=True)
    lcp_ms = models.FloatField(_("largest contentful paint (ms)"), null=True, blank=True)
    size_bytes = models.PositiveIntegerField(_("response size (bytes)"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("performance result")
        verbose_name_plural = _("performance results")
        ordering = ["-measured_at"]
        indexes = [models.Index(fields=["target", "-measured_at"], name="perf_result_target_time")]

    def __str__(self) -> str:
        return f"{self.target} @ {timezone.localtime(self.measured_at):%Y-%m-%d %H:%M:%S}"


class PerfRollup(models.Model):
    """Percentiles of one target's samples in one hour, kept for a year (raw results are pruned sooner)."""

    target = models.ForeignKey(PerfTarget, on_delete=models.CASCADE, related_name="rollups", verbose_name=_("target"))
    hour = models.DateTimeField(_("hour"), db_index=True)
    count = models.PositiveIntegerField(_("samples"))
    failures = models.PositiveIntegerField(_("failures"))
    p50_ms = models.FloatField(_("p50 (ms)"), null=True, blank=True)
    p95_ms = models.FloatField(_("p95 (ms)"), null=True, blank=True)
    p99_ms = models.FloatField(_("p99 (ms)"), null=True, blank=True)
    max_ms = models.FloatField(_("max (ms)"), null=True, blank=True)

    class Meta:
        verbose_name = _("hourly performance rollup")
        verbose_name_plural = _("hourly performance rollups")
        ordering = ["-hour"]
        constraints = [models.UniqueConstraint(fields=["target", "hour"], name="unique_perf_rollup_target_hour")]

    def __str__(self) -> str:
        return f"{self.target} {timezone.localtime(self.hour):%Y-%m-%d %H:00}"


class RequestStat(models.Model):
    """Server time of real requests in one minute, by route pattern, method and status class.

    Each web process appends its own rows when it flushes (no upsert, so processes never contend); selectors sum
    rows with the same key. `buckets` holds per-bucket counts (not cumulative) for the upper bounds in
    performance.timing.BUCKETS_MS, the last one being everything slower.
    """

    minute = models.DateTimeField(_("minute"), db_index=True)
    route = models.CharField(_("route"), max_length=300)
    method = models.CharField(_("method"), max_length=10)
    status_class = models.CharField(_("status class"), max_length=3)
    count = models.PositiveIntegerField(_("requests"))
    sum_ms = models.FloatField(_("total time (ms)"))
    max_ms = models.FloatField(_("slowest (ms)"))
    buckets = models.JSONField(_("histogram buckets"), default=list)

    class Meta:
        verbose_name = _("request statistic")
        verbose_name_plural = _("request statistics")
        ordering = ["-minute", "route"]
        indexes = [models.Index(fields=["route", "minute"], name="request_stat_route_minute")]

    def __str__(self) -> str:
        return f"{self.method} {self.route} {self.status_class} @ {timezone.localtime(self.minute):%Y-%m-%d %H:%M}"

    @property
    def mean_ms(self) -> float:
        return self.sum_ms / self.count if self.count else 0.0


class RequestRollup(models.Model):
    """Real requests of one hour, all routes together except static files, kept as long as the probe rollups.

    Rolled up from RequestStat (`performance.services.request_stats_rollup`), so request latency outlives the
    per-minute rows. `buckets` has RequestStat's layout: per-bucket counts for the upper bounds in
    performance.timing.BUCKETS_MS, the last one being everything slower.
    """

    hour = models.DateTimeField(_("hour"), unique=True)
    count = models.PositiveIntegerField(_("requests"))
    sum_ms = models.FloatField(_("total time (ms)"))
    max_ms = models.FloatField(_("slowest (ms)"))
    buckets = models.JSONField(_("histogram buckets"), default=list)

    class Meta:
        verbose_name = _("hourly request rollup")
        verbose_name_plural = _("hourly request rollups")
        ordering = ["-hour"]

    def __str__(self) -> str:
        return f"{timezone.localtime(self.hour):%Y-%m-%d %H:00}"

    @property
    def mean_ms(self) -> float:
        return self.sum_ms / self.count if self.count else 0.0
