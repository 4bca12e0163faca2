"""Alerting's own reading of monitoring: the latest health snapshot as observations, and the metric names the
installed checks and modules report. Alerting depends on monitoring's public functions; monitoring imports no
alerting (it sends `snapshot_taken`, connected in alerting/signals.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from alerting.observations import (
    Observation,
    ObservationsUnavailable,
    declare_metric,
    register_metric_name_source,
    register_provider,
)
from monitoring.observations import BUILT_IN_METRICS, StaleSnapshotError, snapshot_readings
from monitoring.registry import metric_names


def snapshot_observations(now: datetime) -> Iterator[Observation]:
    """The latest fresh snapshot's samples and check results (ObservationsUnavailable when there is none)."""
    try:
        readings = list(snapshot_readings(now))
    except StaleSnapshotError as exc:  # e.g. the first evaluation after a start, before the first snapshot
        raise ObservationsUnavailable(str(exc)) from exc
    for reading in readings:
        if reading.kind == "metric":
            declare_metric(reading.name)
        yield Observation(kind=reading.kind, name=reading.name, labels=reading.labels, value=reading.value,
                          status=reading.status, at=reading.at, message=reading.message)


def register() -> None:
    register_provider(snapshot_observations, metrics=BUILT_IN_METRICS)
    register_metric_name_source(metric_names)  # modules' metrics, known before any snapshot has them
