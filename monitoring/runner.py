"""The one runner behind the health view, the metrics view, snapshots, heartbeats and `manage.py monitor`.

Checks run concurrently on two ThreadPoolExecutors (monitoring/pool.py); the caller waits at most each
check's timeout, and never longer than the overall deadline. A check that has not answered by then is reported as
failed ("no answer within ...") and abandoned, so the caller never hangs.

Database connections: checks that declare `uses_database`, and the jobs that read other hosts' reports and the
metric providers, run on the database pool, so all of them together hold at most MONITOR_DB_CONNECTIONS connections
per process, however many requests run checks at once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop as _

from monitoring import registry
from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue, check_outcome, worst
from monitoring.messages import Message
from monitoring.models import Status
from monitoring.pool import Job, run_jobs
from monitoring.sqlread import SqlRead, read_parts
from opsportal.lib.hostname import host_name

logger = logging.getLogger(__name__)

# How a part of the shared database read is made: (build its SqlRead, or None; run it alone instead).
Builders = tuple[Callable[[], "SqlRead | None"], Callable[[], object]]

_cache: dict[str, tuple[float, CheckOutcome]] = {}
_cache_lock = threading.Lock()


def clear_cached_results() -> None:
    """Forget results kept for checks with cache_for (after a deploy step, and between tests)."""
    with _cache_lock:
        _cache.clear()


def local_hostname() -> str:
    return host_name()


@dataclass
class HealthReport:
    results: list[CheckOutcome]
    duration: float
    generated_at: datetime
    extra_samples: list[MetricValue] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return worst([result.counts_as for result in self.results])

    def samples(self) -> list[MetricValue]:
        """Every metric: each check's status and duration, the samples checks returned, and providers' metrics."""
        found: list[MetricValue] = []
        for result in self.results:
            labels = {"check": result.name, "host": result.host}
            # As the result counts: a non-critical check's critical is a 1, so no rule on this metric pages for it.
            severity = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2}[result.counts_as]
            found.append(MetricValue("health_check_status", severity, labels,
                                "Status of a health check as it counts: 0 ok, 1 warning, 2 critical "
                                "(a non-critical check's critical is 1)."))
            found.append(MetricValue("health_check_duration_seconds", result.duration, labels,
                                "Time a health check took."))
            for sample in result.samples:
                sample_labels = {**sample.labels, "host": result.host} if result.host else sample.labels
                found.append(MetricValue(sample.name, sample.value, sample_labels, sample.help))
        return found + self.extra_samples


def _check_outcome(check: HealthCheck, job: Job | _Part) -> CheckOutcome:
    if not job.done.is_set():
        result = check.failure(Message(_("no answer within %(seconds).1f s"),
                                       {"seconds": min(job.timeout, time.monotonic() - job.started)}))
        result.duration = time.monotonic() - job.started
        return result
    if job.error is not None:
        logger.warning("health check %s failed: %s", check.name, job.error)
        result = check.failure(Message(_("%(error_type)s: %(error)s"),
                                       {"error_type": type(job.error).__name__, "error": str(job.error)}))
    else:
        result = job.value  # type: ignore[assignment]
    result.duration = job.finished - job.started
    return result


def run_checks(checks: list[HealthCheck], *, deadline: float | None = None,
               extra_jobs: dict[str, tuple[Callable[[], object], float]] | None = None,
               extra_reads: dict[str, tuple[str, Builders, float]] | None = None,
               ) -> tuple[list[CheckOutcome], dict[str, Job]]:
    """Run checks (and optional extra callables and reads) concurrently; return results in check order and the
    extra jobs (by label; a read's job holds its part of the shared statement's answer).

    Extra jobs (other hosts' reports, metric providers) read the database: they run on the database pool. The
    database checks that are one read (`sql_read()`) and the extra reads are read together, one statement and one
    database-pool job per alias (monitoring/sqlread.py); checks of one class with the same `together_key()` (the
    Redis checks of one server) run in one job. Each check still gets its own outcome; a shared job that does not
    answer in time is "no answer" for each of its checks."""
    deadline = settings.HEALTH_DEADLINE.total_seconds() if deadline is None else deadline
    now = time.monotonic()
    cached: dict[int, CheckOutcome] = {}
    jobs: list[Job] = []
    pending: list[tuple[int, HealthCheck, Job]] = []
    inline: list[tuple[int, HealthCheck, Job]] = []
    # alias -> [(index or label, check or None, (build its read, run it alone), timeout)]
    reads: dict[str, list[tuple[int | str, HealthCheck | None, Builders, float]]] = {}
    together: dict[tuple[type[HealthCheck], str], list[tuple[int, HealthCheck]]] = {}
    for index, check in enumerate(checks):
        if check.cache_for:
            with _cache_lock:
                hit = _cache.get(check.cache_key())
            if hit and now - hit[0] < check.cache_for:
                cached[index] = dataclasses.replace(hit[1])  # a copy: callers set host on their results
                continue
        alias = check.sql_alias() if check.uses_database else None
        if alias is not None:
            reads.setdefault(alias, []).append((index, check, (check.sql_read, check.run), check.timeout))
            continue
        inline_here = check.runs_inline()
        key = None if inline_here else check.together_key()
        if key is not None:
            together.setdefault((type(check), key), []).append((index, check))
            continue
        job = Job(check.name, check.run, check.timeout, uses_database=check.uses_database)
        if inline_here:
            inline.append((index, check, job))
            pending.append((index, check, job))
            continue
        jobs.append(job)
        pending.append((index, check, job))
    extras = {label: Job(label, target, timeout, uses_database=True)
              for label, (target, timeout) in (extra_jobs or {}).items()}
    for label, (alias, builders, timeout) in (extra_reads or {}).items():
        reads.setdefault(alias, []).append((label, None, builders, timeout))
    # One pool job for several checks: the database reads of one alias, the checks sharing a together_key.
    shared: list[tuple[Job, list[tuple[int | str, HealthCheck | None, Builders | None, float]]]] = []
    for alias, parts in reads.items():
        batch = [builders for _key, _check, builders, _timeout in parts]
        shared.append((Job(f"database reads ({alias})", lambda batch=batch: read_parts(batch),
                           min(timeout for *_rest, timeout in parts), uses_database=True), parts))
    for (check_class, key), members in together.items():
        group = [check for _index, check in members]
        shared.append((Job(f"{check_class.name} ({key})", lambda cls=check_class, group=group: cls.run_together(group),
                           min(check.timeout for check in group), uses_database=check_class.uses_database),
                       [(index, check, None, check.timeout) for index, check in members]))
    # The pools' jobs start first; the inline checks run here meanwhile, then the caller waits for the rest.
    run_jobs([job for job, _parts in shared] + jobs + list(extras.values()), deadline=deadline,
             meanwhile=[job for _i, _c, job in inline])

    for job, parts in shared:
        for position, (key, check, _read, _timeout) in enumerate(parts):
            part = _Part(job, position)
            if check is None:
                extras[key] = part  # type: ignore[index]
            else:
                pending.append((key, check, part))  # type: ignore[arg-type]

    results: dict[int, CheckOutcome] = dict(cached)
    for index, check, job in pending:
        result = _check_outcome(check, job)
        if check.cache_for and result.status == Status.OK:
            with _cache_lock:
                _cache[check.cache_key()] = (now, result)
        results[index] = result
    host = local_hostname()
    ordered = []
    for index, check in enumerate(checks):
        result = results[index]
        if check.per_host:
            result.host = host
        ordered.append(result)
    return ordered, extras


class _Settled:
    """`done.is_set()` of a part of a shared job, fixed once the caller stopped waiting for it."""

    def __init__(self, done: bool) -> None:
        self.done = done

    def is_set(self) -> bool:
        return self.done


class _Part:
    """One check's (or extra read's) part of a shared job, read as a Job is: not done when the shared job is not
    (no answer in time), the shared job's error when it failed as a whole (the database could not be reached),
    else the part's own answer."""

    def __init__(self, job: Job, position: int) -> None:
        self.label, self.timeout, self.started, self.finished = job.label, job.timeout, job.started, job.finished
        done = job.done.is_set()
        self.done = _Settled(done)
        self.value: object = None
        self.error: BaseException | None = None
        if done and job.error is not None:
            self.error = job.error
        elif done:
            answer = job.value[position]  # type: ignore[index]
            self.value, self.error = answer.value, answer.error


def _remote_host_results() -> list[CheckOutcome]:
    from monitoring.selectors import host_reports_current

    return host_reports_current(exclude=local_hostname())


def _remote_host_read() -> SqlRead | None:
    from monitoring.selectors import host_reports_read

    return host_reports_read(exclude=local_hostname())


def _remote_host_alias() -> str | None:
    from django.db import connection

    return connection.alias if connection.vendor == "postgresql" else None


def _provider_samples() -> list[MetricValue]:
    samples: list[MetricValue] = []
    for provider in registry.metric_providers():
        try:
            samples.extend(provider())
        except Exception:
            logger.exception("metric provider %s failed", getattr(provider, "__qualname__", provider))
    return samples


def health_report_collect(*, names: list[str] | None = None, hosts: bool = True, metrics: bool = False,
                          deadline: float | None = None) -> HealthReport:
    """Run the registered checks here, and add what every other host reported with its heartbeat."""
    started = time.monotonic()
    timeout = settings.MONITOR_CHECK_TIMEOUT.total_seconds()
    extra: dict[str, tuple[Callable[[], object], float]] = {}
    extra_reads: dict[str, tuple[str, Builders, float]] = {}
    if hosts:
        alias = _remote_host_alias()
        if alias is not None:
            extra_reads["hosts"] = (alias, (_remote_host_read, _remote_host_results), timeout)
        else:
            extra["hosts"] = (_remote_host_results, timeout)
    if metrics:
        extra["metrics"] = (_provider_samples, timeout)
    # The moment the checks were started: snapshots are then spaced as their ticks are, whatever each one's checks
    # took, so alert durations counted between two snapshots do not shrink by the difference of their run times.
    generated_at = timezone.now()
    results, jobs = run_checks(registry.checks(names=names), deadline=deadline, extra_jobs=extra,
                               extra_reads=extra_reads)
    report = HealthReport(results=results, duration=0.0, generated_at=generated_at)
    if "hosts" in jobs:
        job = jobs["hosts"]
        if job.done.is_set() and job.error is None:
            report.results.extend(job.value)  # type: ignore[arg-type]
        else:
            logger.warning("reading host reports failed: %s", job.error or "no answer in time")
            report.results.append(check_outcome(
                "hosts", Status.WARNING, Message(_("the reports of other hosts could not be read")),
                critical=False))
    if "metrics" in jobs and jobs["metrics"].done.is_set() and jobs["metrics"].error is None:
        report.extra_samples = jobs["metrics"].value  # type: ignore[assignment]
    report.duration = time.monotonic() - started
    return report


class _SharedReport:
    """The latest full report, shared by every request of this process for `max_age` seconds (single flight).

    A load balancer on each of ten nodes probing every second must not run every check ten times a second against
    the database, Redis and Docker: callers within the window get the same report, and only one caller runs the
    checks when it has expired. While it does, the others get the previous report, as long as that is no older
    than `max_age` plus HEALTH_DEADLINE (the longest a run can take); otherwise they wait for the fresh one.
    """

    def __init__(self) -> None:
        self.reports: dict[tuple, tuple[float, HealthReport]] = {}
        self.refreshing: dict[tuple, threading.Lock] = {}
        self.guard = threading.Lock()

    def get(self, *, max_age: float, metrics: bool) -> HealthReport:
        if max_age <= 0:
            return health_report_collect(metrics=metrics)
        key = (metrics,)
        cached = self.reports.get(key)
        if cached is not None and time.monotonic() - cached[0] < max_age:
            return cached[1]
        with self.guard:
            refresh = self.refreshing.setdefault(key, threading.Lock())
        usable_stale = cached is not None and time.monotonic() - cached[0] < max_age + _deadline()
        if not refresh.acquire(blocking=not usable_stale):
            return cached[1]  # another caller is running the checks right now
        try:
            cached = self.reports.get(key)
            if cached is not None and time.monotonic() - cached[0] < max_age:
                return cached[1]  # refreshed while this caller waited
            report = health_report_collect(metrics=metrics)
            self.reports[key] = (time.monotonic(), report)
            return report
        finally:
            refresh.release()


def _deadline() -> float:
    return settings.HEALTH_DEADLINE.total_seconds()


_shared = _SharedReport()


def _reset_shared_after_fork() -> None:
    # a child forked while another thread held the lock would wait on it forever
    global _shared
    _shared = _SharedReport()


os.register_at_fork(after_in_child=_reset_shared_after_fork)


def health_report_shared(*, metrics: bool = False) -> HealthReport:
    """A full report no older than HEALTH_CACHE_TTL (0 runs the checks for every call)."""
    return _shared.get(max_age=settings.HEALTH_CACHE_TTL.total_seconds(), metrics=metrics)
