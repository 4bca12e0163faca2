"""OpsPortal: backups, monitoring and performance for an ops team, in the Django admin."""

from opsportal.celery import app as celery_app

__all__ = ["celery_app"]
