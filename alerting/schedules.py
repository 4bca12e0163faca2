from __future__ import annotations

from django.conf import settings

from opsportal.celery import MONITORING_QUEUE
from opsportal.lib.schedules import ensure_periodic_task


def create_default_schedules(**_: object) -> None:
    ensure_periodic_task(
        name="alerting: evaluate rules",
        task="alerting.tasks.evaluate",
        queue=MONITORING_QUEUE,
        every=settings.ALERTING_EVALUATE_EVERY,
        description=(
            "Safety net: monitoring triggers an evaluation after each snapshot; this one also re-sends notifications "
            "whose task message was lost."
        ),
    )
