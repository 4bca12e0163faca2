"""django-health-check with the checks that overlap ours: database, cache, Redis, disk, memory (+ celery)."""

from django.conf import settings
from django.urls import include, path
from health_check.checks import Cache, Database
from health_check.contrib.celery import Ping
from health_check.contrib.psutil import Disk, Memory
from health_check.contrib.redis import Redis
from health_check.views import HealthCheckView
from redis.asyncio import Redis as RedisClient

CHECKS = [
    Database,
    Cache,
    (Redis, {"client_factory": lambda: RedisClient.from_url(settings.CELERY_BROKER_URL)}),
    (Disk, {"path": "/"}),
    (Disk, {"path": str(settings.BACKUP_DIR.parent)}),
    Memory,
]

urlpatterns = [
    path("ht/", HealthCheckView.as_view(checks=CHECKS)),
    # Its Celery check broadcasts a ping and waits for the first worker's answer (limit=1), then asks the workers
    # which queues they consume: what "celery" costs there on every request.
    path("ht-celery/", HealthCheckView.as_view(checks=[*CHECKS, (Ping, {"limit": 1})])),
    path("", include("opsportal.urls")),
]
