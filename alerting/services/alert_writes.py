"""Writing the evaluator's decisions for one rule in bulk: only the alerts that change, each change claimed once.

The evaluator (evaluation.py) decides an `AlertChange` per alert; `alert_changes_write` drops the ones that change
nothing, locks the rest in labels_key order (two evaluators racing lock the same rows in the same order and never
deadlock), and writes them with one conditional UPDATE per kind of change (`WHERE version = the version read`), so a
change a racing evaluator already made is not made or recorded twice. The transitions of the claimed changes are
inserted with one bulk INSERT. On databases other than PostgreSQL (the embedded SQLite mode, small by design) each
change is claimed with its own conditional UPDATE, as before.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import F

from alerting.models import Alert, AlertTransition

if TYPE_CHECKING:
    from alerting.services.evaluation import Condition


@dataclass
class AlertChange:
    """What the evaluator wants for one alert: new field values, and a transition when `new_state` is set."""

    alert: Alert
    fields: dict = field(default_factory=dict)
    new_state: str | None = None
    happened_at: datetime | None = None
    condition: Condition | None = None

    @property
    def is_transition(self) -> bool:
        return self.new_state is not None

    def changes_something(self) -> bool:
        return self.is_transition or any(getattr(self.alert, name) != value for name, value in self.fields.items())


def alert_changes_write(changes: list[AlertChange]) -> list[AlertTransition]:
    """Write the changes that change something; return the transitions recorded (in the order of `changes`)."""
    wanted = [change for change in changes if change.changes_something()]
    if not wanted:
        return []
    if connection.vendor != "postgresql":
        return [t for change in wanted if (t := _write_one(change)) is not None]
    with transaction.atomic():
        locked = dict(
            Alert.objects.select_for_update()
            .filter(pk__in=[change.alert.pk for change in wanted])
            .order_by("labels_key")
            .values_list("pk", "version")
        )
        # A racing evaluator changed these since we read them: its decision stands, as a failed conditional UPDATE.
        wanted = [change for change in wanted if locked.get(change.alert.pk) == change.alert.version]
        groups: dict[tuple[bool, tuple[str, ...]], list[AlertChange]] = defaultdict(list)
        for change in wanted:
            names = tuple(sorted({*change.fields, "state"} if change.is_transition else change.fields))
            groups[(change.is_transition, names)].append(change)
        claimed: set[int] = set()
        for (is_transition, names), group in groups.items():
            claimed |= _update_returning(group, names, bump=is_transition)
        done = [change for change in wanted if change.alert.pk in claimed]
        transitions = [_transition_for(change) for change in done if change.is_transition]
        AlertTransition.objects.bulk_create(transitions)
        for change in done:
            _apply_in_memory(change)
    return transitions


def _update_returning(changes: list[AlertChange], names: tuple[str, ...], *, bump: bool) -> set[int]:
    """One UPDATE ... FROM unnest(one array per column) WHERE version matches; the ids it changed.

    Arrays keep the statement at one parameter per column whatever the number of rows. The values are aware
    datetimes, floats, strings and None, which psycopg adapts as they are.
    """
    quote = connection.ops.quote_name
    fields = [Alert._meta.get_field(name) for name in names]
    pk = Alert._meta.pk
    arrays = ["%s::bigint[]", "%s::integer[]", *(f"%s::{_array_type(f)}" for f in fields)]
    columns = ", ".join(["row_id", "row_version", *(quote(f.column) for f in fields)])
    assignments = [f"{quote(f.column)} = v.{quote(f.column)}" for f in fields]
    if bump:
        assignments.append(f"{quote('version')} = a.{quote('version')} + 1")
    rows = [{**c.fields, "state": c.new_state} if c.is_transition else c.fields for c in changes]
    params = [[change.alert.pk for change in changes], [change.alert.version for change in changes]]
    params += [[row[name] for row in rows] for name in names]
    # Identifiers come from the model's metadata; every value is a parameter.
    sql = (
        f"UPDATE {quote(Alert._meta.db_table)} AS a SET {', '.join(assignments)} "  # noqa: S608
        f"FROM unnest({', '.join(arrays)}) AS v({columns}) "
        f"WHERE a.{quote(pk.column)} = v.row_id AND a.{quote('version')} = v.row_version "
        f"RETURNING a.{quote(pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row_id for (row_id,) in cursor.fetchall()}


def _array_type(model_field) -> str:
    # varchar(10)[] would do, text[] is simpler; the column's own type applies on assignment.
    db_type = model_field.db_type(connection)
    return "text[]" if db_type.startswith("varchar") else f"{db_type}[]"


def _transition_for(change: AlertChange) -> AlertTransition:
    alert, condition = change.alert, change.condition
    return AlertTransition(
        alert=alert,
        old_state="" if alert.version == 0 else alert.state,
        new_state=change.new_state,
        happened_at=change.happened_at,
        value=condition.value if condition else None,
        message=condition.message if condition else "",
    )


def _apply_in_memory(change: AlertChange) -> None:
    for name, value in change.fields.items():
        setattr(change.alert, name, value)
    if change.is_transition:
        change.alert.state = change.new_state
        change.alert.version += 1


def _write_one(change: AlertChange) -> AlertTransition | None:
    """The same claim for one alert: a conditional UPDATE on (pk, version)."""
    alert = change.alert
    with transaction.atomic():
        if not change.is_transition:
            # Observed values only; a racing evaluator that changed the state meanwhile wins.
            Alert.objects.filter(pk=alert.pk, version=alert.version).update(**change.fields)
            return None
        changed = Alert.objects.filter(pk=alert.pk, version=alert.version).update(
            state=change.new_state, version=F("version") + 1, **change.fields
        )
        if changed != 1:
            return None
        transition = _transition_for(change)
        transition.save()
        _apply_in_memory(change)
        return transition
