"""The contract of a health check: a name, a critical flag, a timeout, and a typed result.

A check subclasses HealthCheck and implements `run()`, returning `self.ok(...)`, `self.warning(...)` or
`self.failure(...)` (status critical; `critical` itself is the class flag saying whether a failure may make the
overall status critical) with a message and the observed values; an exception it raises becomes a critical result
with the exception's text. Numeric values worth graphing are returned as `samples` (MetricValue, metrics). A check with
`per_host = True` (disk, memory, cpu, docker) runs on every host: on the web host live and on each worker host with
its heartbeat. A check that queries a database sets `uses_database = True` (see monitoring/pool.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings

from monitoring.messages import Message, render_message
from monitoring.models import SEVERITY, Status

if TYPE_CHECKING:
    from monitoring.sqlread import SqlRead


@dataclass(frozen=True)
class MetricValue:
    """One numeric metric value: `name` follows Prometheus naming (snake_case with a unit suffix)."""

    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)
    help: str = ""

    def labels_key(self) -> str:
        return ",".join(f"{key}={self.labels[key]}" for key in sorted(self.labels))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "labels": dict(self.labels), "help": self.help}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricValue:
        return cls(name=data["name"], value=float(data["value"]), labels=dict(data.get("labels") or {}),
                   help=data.get("help", ""))


@dataclass
class CheckOutcome:
    """What one run of a health check returns; a snapshot stores it as a `monitoring.models.CheckResult` row."""

    name: str
    status: Status
    message: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    samples: list[MetricValue] = field(default_factory=list)
    critical: bool = True
    duration: float = 0.0
    host: str = ""
    # The message as a msgid and its parameters (monitoring.messages), so each reader gets it in their language;
    # empty for a plain text (an exception's, or a check written before messages had ids).
    message_id: str = ""
    message_params: dict[str, Any] = field(default_factory=dict)

    @property
    def display_message(self) -> str:
        """The message in the active language."""
        return render_message(self.message_id, self.message_params, self.message)

    @property
    def counts_as(self) -> Status:
        """What this result contributes to the overall status: a non-critical check never makes it critical."""
        if self.status == Status.CRITICAL and not self.critical:
            return Status.WARNING
        return self.status

    @property
    def label(self) -> str:
        return f"{self.name}@{self.host}" if self.host else self.name

    def to_dict(self, *, with_samples: bool = False) -> dict[str, Any]:
        data = {
            "name": self.name,
            "host": self.host,
            "status": str(self.status),
            "critical": self.critical,
            "counts_as": str(self.counts_as),
            "message": self.message,
            "message_id": self.message_id,
            "message_params": self.message_params,
            "duration_ms": round(self.duration * 1000, 2),
            "values": self.values,
        }
        if with_samples:
            data["samples"] = [sample.to_dict() for sample in self.samples]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckOutcome:
        return cls(
            name=data["name"],
            status=Status(data["status"]),
            message=data.get("message", ""),
            message_id=data.get("message_id", ""),
            message_params=data.get("message_params") or {},
            values=data.get("values") or {},
            samples=[MetricValue.from_dict(item) for item in data.get("samples") or []],
            critical=data.get("critical", True),
            duration=float(data.get("duration_ms", 0)) / 1000,
            host=data.get("host", ""),
        )


def check_outcome(name: str, status: Status, message: str | Message = "", **fields: Any) -> CheckOutcome:
    """A result whose message, if a Message, keeps its id and parameters beside its text in LANGUAGE_CODE."""
    if isinstance(message, Message):
        data = message.data()
        return CheckOutcome(name=name, status=status, message=message.render_default(),
                           message_id=data["message_id"], message_params=data["params"], **fields)
    return CheckOutcome(name=name, status=status, message=message, **fields)


@dataclass
class Answer:
    """What one check of a shared job gave: its outcome, or the exception that is its failure."""

    value: object = None
    error: BaseException | None = None


def answer_of(run: Callable[[], object]) -> Answer:
    try:
        return Answer(value=run())
    except Exception as exc:  # noqa: BLE001 - a check's failure is its own outcome, not the others'
        return Answer(error=exc)


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=lambda status: SEVERITY[status], default=Status.OK)


class HealthCheck:
    name: ClassVar[str] = ""
    critical: ClassVar[bool] = True
    per_host: ClassVar[bool] = False
    # Seconds a result may be reused by the same process (for checks whose answer changes rarely, e.g. migrations).
    cache_for: ClassVar[float] = 0.0
    timeout_override: ClassVar[float | None] = None
    # Metric names the check's results carry, so alert rules can name them before its first run (optional).
    metric_names: ClassVar[tuple[str, ...]] = ()
    # True for a check that queries a database (the ORM, a cursor, or a connection of its own): it then runs on the
    # database pool, so all such checks together hold at most MONITOR_DB_CONNECTIONS connections per process.
    uses_database: ClassVar[bool] = False
    # True for a check that only reads this process's or the kernel's counters (/proc) and so cannot hang: the
    # runner calls it in the caller's thread, while the other checks run on the pools, instead of handing it to a
    # pool thread (the hand-over cost more than the check). Never for one that waits on a network, a socket or a
    # filesystem that may hang (disk: statvfs on a dead network mount blocks).
    inline: ClassVar[bool] = False

    def runs_inline(self) -> bool:
        """Whether the runner may call this check in the caller's thread now (`inline`, unless a check knows more:
        disk does when no filesystem it could touch can hang)."""
        return self.inline

    @classmethod
    def instances(cls) -> list[HealthCheck]:
        """The checks this class stands for under the current settings (several for e.g. database aliases)."""
        return [cls()]

    def cache_key(self) -> str:
        """What a cached result is valid for: include every setting the result depends on."""
        return self.name

    @property
    def timeout(self) -> float:
        if self.timeout_override is not None:
            return self.timeout_override
        return settings.MONITOR_CHECK_TIMEOUT.total_seconds()

    def run(self) -> CheckOutcome:
        raise NotImplementedError

    def together_key(self) -> str | None:
        """Checks of one class with the same key (e.g. the same Redis server) run in one pool job, one after the
        other (`run_together`): one thread hand-off instead of one per check, and a dependency that hangs takes no
        more checks with it than it would anyway. None (the default): a job of its own."""
        return None

    @classmethod
    def run_together(cls, checks: Sequence[HealthCheck]) -> list[Answer]:
        """Run checks sharing a `together_key`, one Answer each, in order (each check's failure is its own)."""
        return [answer_of(check.run) for check in checks]

    def sql_read(self) -> SqlRead | None:
        """For a check whose database work is one read (`uses_database = True`): that read as a SqlRead
        (monitoring/sqlread.py), which `run()` then runs alone. The runner reads every such check of one database
        alias, and the other hosts' reports, in one statement on one database-pool thread (where it calls this);
        each still gets its own outcome (a part that fails is that check's failure, with its own error). None (the
        default): run()."""
        return None

    def sql_alias(self) -> str | None:
        """The database alias `sql_read()` reads, or None when the check has no shared read (the default). Called
        in the caller's thread to group the reads, so it must not touch a database, a file or a network."""
        return None

    def result(self, status: Status, message: str | Message = "", values: dict | None = None,
               samples: list[MetricValue] | None = None) -> CheckOutcome:
        return check_outcome(self.name, status, message, values=values or {}, samples=samples or [],
                            critical=self.critical)

    def ok(self, message: str | Message = "", values: dict | None = None,
           samples: list[MetricValue] | None = None) -> CheckOutcome:
        return self.result(Status.OK, message, values, samples)

    def warning(self, message: str | Message, values: dict | None = None,
                samples: list[MetricValue] | None = None) -> CheckOutcome:
        return self.result(Status.WARNING, message, values, samples)

    def failure(self, message: str | Message, values: dict | None = None,
                samples: list[MetricValue] | None = None) -> CheckOutcome:
        return self.result(Status.CRITICAL, message, values, samples)


def threshold_status(value: float, *, warning: float, critical: float) -> Status:
    if value >= critical:
        return Status.CRITICAL
    if value >= warning:
        return Status.WARNING
    return Status.OK
