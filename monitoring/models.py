from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker on a host took a task from a queue: a cheap 'is anyone listening' signal."""

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
