"""django-health-check configured with the checks equivalent to ours: database, cache (Redis), Redis, disk, memory."""

from django.conf import settings
from django.urls import include, path
from health_check.checks import Cache, Database
from health_check.contrib.psutil import Disk, Memory
from health_check.contrib.redis import Redis
from health_check.views import HealthCheckView
from redis.asyncio import Redis as RedisClient

urlpatterns = [
    path(
        "ht/",
        HealthCheckView.as_view(
            checks=[
                Database,
                Cache,
                (Redis, {"client_factory": lambda: RedisClient.from_url(settings.CELERY_BROKER_URL)}),
                (Disk, {"path": "/"}),
                (Disk, {"path": str(settings.BACKUP_DIR.parent)}),
                Memory,
            ]
        ),
    ),
    path("", include("opsportal.urls")),
]
