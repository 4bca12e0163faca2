from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urljoin

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from opsportal.lib.instance import instance_id
from performance.credentials import CredentialError, decrypt_password
from performance.models import PerfResult, PerfRollup, PerfTarget, RequestRollup, RequestStat
from performance.probes import ProbeMeasurement
from performance.probes.api import probe_api
from performance.probes.page import probe_page
from performance.registry import discover_targets
from performance.request_rollups import request_rollups_recompute
from performance.selectors import WindowStats, perf_target_window_stats
from performance.signals import budget_breached, budget_recovered

logger = logging.getLogger(__name__)


# --- targets ---------------------------------------------------------------------------------------------------------
def perf_targets_sync() -> list[PerfTarget]:
    """Create a PerfTarget for every declared target that has none yet; return the created ones.

    Idempotent, and an existing row is never changed: an admin may have edited its budget, samples or switch.
    """
    created: list[PerfTarget] = []
    for declared in discover_targets():
        spec = declared.spec
        target, was_created = PerfTarget.objects.get_or_create(
            name=spec.name,
            defaults={
                "kind": spec.kind,
                "url": spec.url,
                "url_name": spec.url_name,
                "method": spec.method,
                "expected_status": spec.expected_status,
                "budget_ms": spec.budget_ms,
                "samples": spec.samples,
                "source": declared.source,
            },
        )
        if was_created:
            created.append(target)
    return created


def perf_target_absolute_url(*, target: PerfTarget) -> str:
    path = target.url or reverse(target.url_name)
    if path.startswith(("http://", "https://")):
        return path
    return urljoin(settings.PERF_BASE_URL + "/", path.lstrip("/"))


# --- probing ---------------------------------------------------------------------------------------------------------
def perf_target_claim(*, target_id: int, now: datetime | None = None, require_enabled: bool = True) -> bool:
    """Mark the target as being probed unless another probe holds it (or held it so long ago it must have died)."""
    now = now or timezone.now()
    stale_before = now - _probe_deadline()
    queryset = PerfTarget.objects.filter(pk=target_id).filter(
        Q(probing_since__isnull=True) | Q(probing_since__lt=stale_before)
    )
    if require_enabled:
        queryset = queryset.filter(enabled=True)
    return queryset.update(probing_since=now) == 1


def _probe_deadline() -> timedelta:
    return settings.PERF_PROBE_TIMEOUT * 12 + timedelta(minutes=1)


def perf_target_measure(*, target: PerfTarget, samples: int | None = None) -> list[ProbeMeasurement]:
    """Run the probe for the target's kind; store nothing."""
    count = samples or target.samples
    timeout = settings.PERF_PROBE_TIMEOUT.total_seconds()
    try:
        url = perf_target_absolute_url(target=target)
    except NoReverseMatch:
        # The app that served it was removed; the target stays (an admin disables or deletes it) and says why.
        return [ProbeMeasurement(outcome=PerfResult.Outcome.FAILED,
                                 error=f"URL name {target.url_name!r} does not resolve")]
    # the portal's own pages (a path, a URL name, or an absolute URL under PERF_BASE_URL) must be answered by it
    own = not target.url.startswith(("http://", "https://")) or url.startswith(settings.PERF_BASE_URL + "/")
    expected_instance = instance_id() if own else ""
    if target.kind == PerfTarget.Kind.API:
        return probe_api(
            url=url, method=target.method, expected_status=target.expected_status, samples=count, timeout=timeout,
            expected_instance=expected_instance,
        )
    password = ""
    if target.has_credentials:
        try:
            password = decrypt_password(target.login_password_encrypted)
        except CredentialError as exc:
            return [ProbeMeasurement(outcome=PerfResult.Outcome.FAILED, error=str(exc))]
    return probe_page(
        url=url,
        expected_status=target.expected_status,
        samples=count,
        timeout=timeout,
        chromium_path=settings.PERF_CHROMIUM_PATH,
        login_url=urljoin(settings.PERF_BASE_URL + "/", reverse("admin:login").lstrip("/")),
        username=target.login_username if password else "",
        password=password,
        expected_instance=expected_instance,
    )


def perf_results_store(*, target: PerfTarget, samples: list[ProbeMeasurement],
                       at: datetime | None = None) -> list[PerfResult]:
    at = at or timezone.now()
    return PerfResult.objects.bulk_create(
        PerfResult(
            target=target,
            measured_at=at,
            outcome=sample.outcome,
            http_status=sample.http_status,
            duration_ms=sample.duration_ms,
            ttfb_ms=sample.ttfb_ms,
            dom_content_loaded_ms=sample.dom_content_loaded_ms,
            load_ms=sample.load_ms,
            lcp_ms=sample.lcp_ms,
            size_bytes=sample.size_bytes,
            error=sample.error,
        )
        for sample in samples
    )


def perf_target_probe(
    *, target_id: int, samples: int | None = None, require_enabled: bool = True
) -> list[PerfResult] | None:
    """Claim, measure, store and evaluate one target; None if it is disabled or another probe holds it."""
    if not perf_target_claim(target_id=target_id, require_enabled=require_enabled):
        logger.info("perf target %s not probed: disabled, gone or already being probed", target_id)
        return None
    try:
        target = PerfTarget.objects.get(pk=target_id)
        measured = perf_target_measure(target=target, samples=samples)
        results = perf_results_store(target=target, samples=measured)
        perf_target_round_record(target=target, results=results)
        perf_target_evaluate(target=target)
        return results
    finally:
        PerfTarget.objects.filter(pk=target_id).update(probing_since=None)


def perf_probes_enqueue() -> int:
    """Sync declared targets, then queue one probe task per enabled target (after commit); return how many."""
    perf_targets_sync()
    return perf_target_probes_enqueue(target_ids=PerfTarget.objects.filter(enabled=True).values_list("pk", flat=True))


def perf_target_probes_enqueue(*, target_ids: Iterable[int]) -> int:
    """Queue one probe task per target (after commit); return how many (the admin's "probe now" calls this)."""
    from performance.tasks import probe_target

    ids = list(target_ids)
    for target_id in ids:
        transaction.on_commit(lambda target_id=target_id: probe_target.delay(target_id))
    return len(ids)


def perf_target_round_record(*, target: PerfTarget, results: list[PerfResult], at: datetime | None = None) -> bool:
    """Record whether the probe round succeeded (every sample ok); return True if it did.

    A failed round makes the target failing until a round succeeds: failing_since is set only by the round that
    flips it, so it says since when.
    """
    at = at or timezone.now()
    failed = [result for result in results if result.outcome != PerfResult.Outcome.OK]
    succeeded = bool(results) and not failed
    rows = PerfTarget.objects.filter(pk=target.pk)
    if succeeded:
        flipped = rows.filter(failing_since__isnull=False).update(failing_since=None)
        rows.update(last_probed_at=at, last_error="")
    else:
        flipped = rows.filter(failing_since__isnull=True).update(failing_since=at)
        rows.update(last_probed_at=at, last_error=(failed[0].error if failed else "no sample")[:1000])
    if flipped:
        logger.warning("perf target %s %s", target.name, "recovered" if succeeded else "is failing")
    target.refresh_from_db(fields=["failing_since", "last_probed_at", "last_error"])
    return succeeded


# --- budgets ---------------------------------------------------------------------------------------------------------
def perf_target_evaluate(*, target: PerfTarget, now: datetime | None = None) -> WindowStats:
    """Compare the window's p95 (successful samples only) with the budget; flip the breach atomically and signal.

    Whether the target is failing is the probe round's business (perf_target_round_record), not this one's.
    """
    now = now or timezone.now()
    stats = perf_target_window_stats(target=target, now=now)
    PerfTarget.objects.filter(pk=target.pk).update(last_p95_ms=stats.p95_ms, last_evaluated_at=now)
    if stats.p95_ms is None:
        # No successful sample in the window (all refused, browser unavailable, URL gone): no latency evidence
        # either way, keep the breach state; the round has marked the target failing.
        target.refresh_from_db(fields=["breached_since", "last_p95_ms", "last_evaluated_at"])
        return stats
    breached = stats.p95_ms > target.budget_ms
    if breached:
        # Only the evaluation that flips the row sends the signal, however many run at once.
        flipped = PerfTarget.objects.filter(pk=target.pk, breached_since__isnull=True).update(breached_since=now)
        signal = budget_breached if flipped else None
    else:
        flipped = PerfTarget.objects.filter(pk=target.pk, breached_since__isnull=False).update(breached_since=None)
        signal = budget_recovered if flipped else None
    target.refresh_from_db(fields=["breached_since", "last_p95_ms", "last_evaluated_at"])
    if signal is not None:
        logger.warning(
            "perf target %s %s: p95 %.0f ms, budget %d ms",
            target.name,
            "breached its budget" if breached else "is back within budget",
            stats.p95_ms or 0,
            target.budget_ms,
        )
        signal.send(sender=PerfTarget, target=target, p95_ms=stats.p95_ms, budget_ms=target.budget_ms, at=now)
    return stats


# --- rollups and retention -------------------------------------------------------------------------------------------
def perf_results_rollup(*, now: datetime | None = None) -> int:
    """(Re)compute hourly rollups from the last rolled-up hour on; return how many rows were written."""
    from performance.selectors import percentile

    now = now or timezone.now()
    latest = PerfRollup.objects.order_by("-hour").values_list("hour", flat=True).first()
    earliest_kept = now - settings.PERF_RESULT_RETENTION
    start = max(latest, earliest_kept) if latest else earliest_kept
    start = start.replace(minute=0, second=0, microsecond=0)
    groups: dict[tuple[int, datetime], list[tuple[float | None, str]]] = defaultdict(list)
    rows = PerfResult.objects.filter(measured_at__gte=start).values_list(
        "target_id", "measured_at", "duration_ms", "outcome"
    )
    for target_id, measured_at, duration, outcome in rows.iterator():
        groups[(target_id, measured_at.replace(minute=0, second=0, microsecond=0))].append((duration, outcome))
    for (target_id, hour), values in groups.items():
        # Percentiles of successful samples only: a refused connection's duration is no latency.
        durations = [d for d, outcome in values if d is not None and outcome == PerfResult.Outcome.OK]
        PerfRollup.objects.update_or_create(
            target_id=target_id,
            hour=hour,
            defaults={
                "count": len(values),
                "failures": sum(1 for _, outcome in values if outcome != PerfResult.Outcome.OK),
                "p50_ms": percentile(durations, 50),
                "p95_ms": percentile(durations, 95),
                "p99_ms": percentile(durations, 99),
                "max_ms": max(durations) if durations else None,
            },
        )
    return len(groups)


def perf_data_prune(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    deleted = {
        "results": PerfResult.objects.filter(measured_at__lt=now - settings.PERF_RESULT_RETENTION).delete()[0],
        "rollups": PerfRollup.objects.filter(hour__lt=now - settings.PERF_ROLLUP_RETENTION).delete()[0],
        "request_stats": RequestStat.objects.filter(minute__lt=now - settings.PERF_REQUEST_STAT_RETENTION).delete()[0],
        "request_rollups": RequestRollup.objects.filter(hour__lt=now - settings.PERF_ROLLUP_RETENTION).delete()[0],
    }
    return deleted


def perf_maintenance_run(*, now: datetime | None = None) -> dict[str, int]:
    """Roll probe results and request statistics up before pruning them, so no hour is lost."""
    rolled = perf_results_rollup(now=now)
    requests_rolled = request_stats_rollup(now=now)
    return {"rollups_written": rolled, "request_rollups_written": requests_rolled, **perf_data_prune(now=now)}


# --- request timing --------------------------------------------------------------------------------------------------
def request_stats_write(*, rows: list[tuple[datetime, tuple[str, str, str], object]]) -> int:
    """Append one RequestStat per (minute, route, method, status class) a process aggregated."""
    objects = [
        RequestStat(
            minute=minute,
            route=route[:300],
            method=method,
            status_class=status_class,
            count=bucket.count,
            sum_ms=bucket.sum_ms,
            max_ms=bucket.max_ms,
            buckets=list(bucket.buckets),
        )
        for minute, (route, method, status_class), bucket in rows
    ]
    RequestStat.objects.bulk_create(objects)
    return len(objects)


def request_stats_rollup(*, now: datetime | None = None) -> int:
    """(Re)compute the hourly RequestRollup rows (static files left out); return how many rows were written.

    Idempotent. Recomputes from the hour before the newest rollup (at least the last two hours) up to and including
    the current, incomplete hour, so minutes a web process flushes late still count; the first run starts at the
    oldest RequestStat. Sums happen in SQL on PostgreSQL, in Python on SQLite.
    """
    return request_rollups_recompute(stat_model=RequestStat, rollup_model=RequestRollup, now=now or timezone.now())
