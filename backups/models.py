"""The catalog: one BackupRun per backup, one BackupArtifact per source, one RestoreRun per restore.

The catalog can be rebuilt from storage alone: each succeeded run writes a manifest beside its files
(backups/manifest.py), and `manage.py backup --reindex` reads them back.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class BackupRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("manual")
        SCHEDULED = "scheduled", _("scheduled")
        CLI = "cli", _("command line")
        API = "api", _("API")
        SAFETY = "safety", _("safety backup before a restore")

    class Verification(models.TextChoices):
        NONE = "", _("not verified")
        VERIFIED = "verified", _("checksums verified")
        DRILL_PASSED = "drill_passed", _("restore drill passed")
        FAILED = "failed", _("verification failed")

    class Kind(models.TextChoices):
        LOGICAL = "logical", _("logical (dump, files, volumes)")
        PHYSICAL = "physical", _("physical (pgBackRest)")

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Physical runs are carried out by backups/physical/ (pgBackRest); `physical_type` is full, diff or incr.
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.LOGICAL, db_index=True)
    physical_type = models.CharField(_("physical backup type"), max_length=8, blank=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("triggered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    triggered_by_name = models.CharField(_("triggered by (name)"), max_length=150, blank=True)
    only = models.JSONField(_("only these sources"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    worker_host = models.CharField(_("worker host"), max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(_("worker process id"), null=True, blank=True)
    storage_prefix = models.CharField(_("storage folder"), max_length=255, blank=True)
    # Raw bytes read from the sources (before compression), and the sources' size estimate taken when the run started
    # (None when no source could tell): the pages compare the two for a percentage and an ETA.
    bytes_done = models.BigIntegerField(_("bytes done"), default=0)
    estimated_bytes = models.BigIntegerField(_("estimated bytes"), null=True, blank=True)
    current_artifact = models.CharField(_("current artifact"), max_length=255, blank=True)
    total_bytes = models.BigIntegerField(_("total stored bytes"), default=0)
    error = models.TextField(_("error"), blank=True)
    log = models.TextField(_("log"), blank=True)
    verification = models.CharField(
        _("verification"), max_length=16, choices=Verification.choices, default=Verification.NONE, blank=True
    )
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    verification_detail = models.TextField(_("verification detail"), blank=True)
    drill_rto_seconds = models.FloatField(_("restore drill duration (RTO), seconds"), null=True, blank=True)
    # A running restore drill's progress (backups/services/verify.py): raw bytes decoded so far against the database
    # artifacts' recorded raw size. `drill_heartbeat_at` is set while the drill runs and cleared when it ends; a
    # heartbeat older than BACKUP_STALE_AFTER means its worker was lost (the pages stop showing it as running).
    drill_started_at = models.DateTimeField(_("restore drill started"), null=True, blank=True)
    drill_heartbeat_at = models.DateTimeField(_("restore drill heartbeat"), null=True, blank=True)
    drill_bytes_done = models.BigIntegerField(_("restore drill bytes done"), default=0)
    drill_bytes_total = models.BigIntegerField(_("restore drill bytes to decode"), null=True, blank=True)
    pinned = models.BooleanField(
        _("pinned"), default=False, help_text=_("Pinned runs are never pruned by the retention policy.")
    )

    class Meta:
        verbose_name = _("backup run")
        verbose_name_plural = _("backup runs")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("run_backup", _("Can run, verify, drill and pin backups")),
            ("restore_backup", _("Can restore a backup over the live system")),
        ]
        indexes = [
            # The admin's status filter on a long history (bench/backups_admin.py): count and page by index.
            models.Index(fields=["status", "-created_at"], name="backuprun_status_created"),
        ]
        constraints = [
            # The hard guarantee behind "one backup at a time": a second claim fails with an IntegrityError.
            models.UniqueConstraint(fields=["status"], condition=Q(status="running"), name="one_running_backup"),
        ]

    def __str__(self) -> str:
        if not self.created_at:
            return ""
        return f"#{self.pk} {self.get_status_display()} ({timezone.localtime(self.created_at):%Y-%m-%d %H:%M})"


    def log_repr(self) -> str:
        """What the admin's "Recent actions" keeps: no status, which would be stale as soon as the run moves on."""
        return f"#{self.pk}"


class BackupArtifact(models.Model):
    run = models.ForeignKey(BackupRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(_("kind"), max_length=32)
    name = models.CharField(_("name"), max_length=255)
    path = models.CharField(_("storage path"), max_length=500)
    stored_bytes = models.BigIntegerField(_("stored bytes"), default=0)
    raw_bytes = models.BigIntegerField(_("raw bytes"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    compression = models.CharField(_("compression"), max_length=16, default="zstd")
    encrypted = models.BooleanField(_("encrypted (age)"), default=False)
    format = models.CharField(_("format"), max_length=32)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    class Meta:
        verbose_name = _("backup artifact")
        verbose_name_plural = _("backup artifacts")
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "kind", "name"], name="unique_artifact_per_run")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


class RestoreRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        REFUSED = "refused", _("refused")

    source_run = models.ForeignKey(
        BackupRun, verbose_name=_("restored backup"), null=True, on_delete=models.SET_NULL, related_name="restores"
    )
    source_run_uuid = models.UUIDField(_("restored backup UUID"), null=True, blank=True)
    # Physical (point-in-time) restores: carried out by backups/physical/restore.py.
    kind = models.CharField(_("kind"), max_length=16, choices=BackupRun.Kind.choices, default=BackupRun.Kind.LOGICAL)
    recovery_target_type = models.CharField(_("recovery target type"), max_length=16, blank=True)
    recovery_target = models.CharField(_("recovery target"), max_length=255, blank=True)
    pg_path = models.CharField(_("data directory"), max_length=500, blank=True)
    port = models.PositiveIntegerField(_("port"), null=True, blank=True)
    in_place = models.BooleanField(_("over the running cluster"), default=False)
    current_step = models.CharField(_("current step"), max_length=255, blank=True)
    # Raw bytes put back so far (decompressed), against the artifacts' recorded raw size (None: not known yet).
    bytes_done = models.BigIntegerField(_("bytes done"), default=0)
    bytes_total = models.BigIntegerField(_("bytes to restore"), null=True, blank=True)
    recovered_at = models.DateTimeField(_("recovered to"), null=True, blank=True)
    target = models.CharField(_("target"), max_length=500)
    only = models.CharField(_("only"), max_length=255, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("triggered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    triggered_by_name = models.CharField(_("triggered by (name)"), max_length=150, blank=True)
    safety_run = models.ForeignKey(
        BackupRun,
        verbose_name=_("safety backup"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="safety_for",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    log = models.TextField(_("log"), blank=True)

    class Meta:
        verbose_name = _("restore run")
        verbose_name_plural = _("restore runs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        if self.source_run_id is None and self.kind == BackupRun.Kind.PHYSICAL:  # pgBackRest picks the backup set
            return gettext("point-in-time restore #%(id)s (%(status)s)") % {
                "id": self.pk, "status": self.get_status_display()}
        if self.source_run_id is None:
            return gettext("restore #%(id)s of a deleted backup (%(status)s)") % {
                "id": self.pk, "status": self.get_status_display()}
        return gettext("restore #%(id)s of backup #%(source)s (%(status)s)") % {
            "id": self.pk,
            "source": self.source_run_id,
            "status": self.get_status_display(),
        }

    def log_repr(self) -> str:
        """What the admin's "Recent actions" keeps: no status (see BackupRun.log_repr)."""
        return f"#{self.pk}"
