"""The evaluator: rules + observations + alert state → alert state changes, each recorded as an AlertTransition.

State machine per (rule, label set):

    (none/resolved) --condition holds--> pending --holds for `for`--> firing --clear for `resolve_after`--> resolved
    pending --condition clears--> resolved (never notified: it never fired)

Every change is a conditional UPDATE on (pk, version), made in bulk per rule (alert_writes.py); only the evaluator
whose UPDATE changed the row records the transition, so evaluators racing over the same observations record (and
later notify) each change once. An alert whose fields would not change is not written at all.

Durations start at the observations' own times: `for` runs from the time the condition was first observed, the clear
spell (`clear_since`) from the time of the first clear observation. An evaluation that ran late (a busy queue) thus
neither postpones a firing nor adds its delay to `resolve_after`; it only decides later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from alerting.models import Alert, AlertEvent, AlertRule, AlertState, AlertTransition, RuleKind
from alerting.models.labels import labels_key, labels_match
from alerting.models.rules import COMPARE, STATUS_RANK
from alerting.observations import Observation
from alerting.services.alert_writes import AlertChange, alert_changes_write

# Conditions are observed at each health snapshot, whose times differ from their ticks by how late a worker took them
# (milliseconds, seconds when busy): a `for` of 60 s seen at three 20 s ticks may span 59.99 s. Counting that as
# reached keeps an alert from waiting one more snapshot interval (a condition seen for less than `for` minus half
# a second never fires).
SAMPLING_SLACK = timedelta(milliseconds=500)


@dataclass(frozen=True)
class Condition:
    """A rule's condition holding for one label set, as last observed."""

    labels: dict[str, str]
    value: float | None
    message: str
    at: datetime
    key: str = ""  # labels_key(labels), when the caller computed it already


def alerts_evaluate(
    *, observations: Iterable[Observation], now: datetime, resolve_unobserved: bool = True
) -> list[AlertTransition]:
    """Evaluate every enabled rule; return the transitions recorded by this call (to be notified by the caller).

    `resolve_unobserved=False` (a provider failed) keeps alerts of metric and check rules whose label sets were not
    observed at all as they are, instead of counting them as clear.
    """
    observations = list(observations)
    transitions: list[AlertTransition] = []
    for rule in AlertRule.objects.filter(enabled=True).order_by("pk"):
        if rule.kind == RuleKind.EVENT:
            conditions = event_conditions(rule=rule, now=now)
            transitions += rule_apply(rule=rule, conditions=conditions, now=now)
        else:
            conditions, observed = observation_conditions(rule=rule, observations=observations)
            transitions += rule_apply(
                rule=rule,
                conditions=conditions,
                now=now,
                observed=observed,
                resolve_unobserved=resolve_unobserved,
            )
    return transitions


def observation_conditions(
    *, rule: AlertRule, observations: Iterable[Observation]
) -> tuple[list[Condition], dict[str, Condition]]:
    """The conditions holding, and the latest observation of every label set the rule matched (holding or not).

    One pass, one labels_key per observation: the evaluator's cost per label set.
    """
    conditions: list[Condition] = []
    observed: dict[str, Condition] = {}
    for observation in observations:
        labels = _rule_labels(rule, observation)
        if labels is None or not labels_match(labels, rule.label_matchers or {}):
            continue
        condition = Condition(labels, observation.value, observation.message, observation.at, labels_key(labels))
        observed[condition.key] = condition
        if rule.kind == RuleKind.METRIC:
            holds = observation.value is not None and COMPARE[rule.comparator](observation.value, rule.threshold)
        else:
            holds = STATUS_RANK.get(observation.status or "", 0) >= STATUS_RANK[rule.check_status]
        if holds:
            conditions.append(condition)
    return conditions, observed


def event_conditions(*, rule: AlertRule, now: datetime) -> list[Condition]:
    """Label sets with a matching event within the last `resolve_after` (the event rule's quiet window)."""
    window = max(rule.resolve_after, timedelta(seconds=1))
    found: dict[str, Condition] = {}
    events = AlertEvent.objects.filter(event=rule.event_name, at__gt=now - window, at__lte=now).order_by("at", "pk")
    for event in events:
        if not labels_match(event.labels, rule.label_matchers or {}):
            continue
        key = labels_key(event.labels)
        first = found.get(key)
        # The episode started at the earliest event in the window; the latest event supplies the message.
        found[key] = Condition(event.labels, event.value, event.message, first.at if first else event.at)
    return list(found.values())


def rule_apply(
    *,
    rule: AlertRule,
    conditions: list[Condition],
    now: datetime,
    observed: dict[str, Condition] | None = None,
    resolve_unobserved: bool = True,
) -> list[AlertTransition]:
    """Move the rule's alerts according to which label sets hold now; return the transitions recorded.

    `observed`: the latest observation of every label set the rule matched, holding or not (their values go on the
    alerts that clear). Without `resolve_unobserved`, alerts of label sets not observed at all stay as they are.

    One transaction per rule, and a fixed number of queries whatever the number of label sets: the rule's alerts are
    read at once, new label sets created in one INSERT, and only the alerts that change are written, in bulk
    (alert_writes.py), so an evaluation where nothing changed writes nothing.
    """
    holding = {c.key or labels_key(c.labels): c for c in conditions}
    observed = observed or {}
    with transaction.atomic():
        alerts = _alerts_for(rule, holding)
        changes: list[AlertChange] = []
        for key in sorted(alerts):
            alert, condition = alerts[key], holding.get(key)
            if condition is not None:
                changes.append(_step_holding(rule, alert, condition, now))
            elif alert.state != AlertState.RESOLVED and (resolve_unobserved or key in observed):
                changes.append(_step_clear(rule, alert=alert, now=now, last=observed.get(key)))
        return alert_changes_write(changes)


def _step_holding(rule: AlertRule, alert: Alert, condition: Condition, now: datetime) -> AlertChange:
    observed = {"last_value": condition.value, "last_message": condition.message, "last_observed_at": condition.at}
    if alert.state == AlertState.RESOLVED:
        since = min(condition.at, now)
        if now - since >= rule.for_duration - SAMPLING_SLACK:
            return AlertChange(
                alert,
                {**observed, **_firing_fields(since, since + rule.for_duration, now)},
                AlertState.FIRING,
                happened_at=since + rule.for_duration,
                condition=condition,
            )
        return AlertChange(
            alert,
            {**observed, "active_since": since, "clear_since": None},
            AlertState.PENDING,
            happened_at=since,
            condition=condition,
        )
    if alert.state == AlertState.PENDING:
        if now - alert.active_since >= rule.for_duration - SAMPLING_SLACK:
            return AlertChange(
                alert,
                {**observed, **_firing_fields(alert.active_since, alert.active_since + rule.for_duration, now)},
                AlertState.FIRING,
                happened_at=alert.active_since + rule.for_duration,
                condition=condition,
            )
        return AlertChange(alert, observed)
    # Firing: the condition still holds (a clear spell shorter than resolve_after is forgotten); maybe remind.
    due = (
        rule.repeat_interval
        and alert.acknowledged_at is None
        and alert.last_notified_at is not None
        and now - alert.last_notified_at >= rule.repeat_interval
    )
    if due:
        return AlertChange(
            alert,
            {**observed, "clear_since": None, "last_notified_at": now},
            AlertState.FIRING,
            happened_at=now,
            condition=condition,
        )
    return AlertChange(alert, {**observed, "clear_since": None})


def _step_clear(rule: AlertRule, *, alert: Alert, now: datetime, last: Condition | None) -> AlertChange:
    # The value that shows the condition cleared (none when the label set is simply no longer observed).
    seen = (
        {"last_value": last.value, "last_message": last.message, "last_observed_at": last.at}
        if last
        else {"last_value": None, "last_message": ""}
    )
    # When the condition was first seen clear: the clear observation's time (never later than now), else now.
    cleared_at = min(last.at, now) if last else now
    if alert.state == AlertState.PENDING:
        return AlertChange(
            alert,
            {**seen, "active_since": None, "resolved_at": cleared_at},
            AlertState.RESOLVED,
            happened_at=cleared_at,
            condition=last,
        )
    # Event rules already waited `resolve_after` without events before their condition cleared.
    resolve_after = timedelta(0) if rule.kind == RuleKind.EVENT else rule.resolve_after
    clear_since = alert.clear_since or cleared_at
    if now - clear_since >= resolve_after - SAMPLING_SLACK:
        return AlertChange(
            alert,
            {**seen, "resolved_at": clear_since, "active_since": None, "clear_since": None},
            AlertState.RESOLVED,
            happened_at=clear_since,
            condition=last,
        )
    return AlertChange(alert, {**seen, "clear_since": clear_since})


def _firing_fields(since: datetime, fired_at: datetime, now: datetime) -> dict:
    return {
        "active_since": since,
        "clear_since": None,
        "fired_at": fired_at,
        "resolved_at": None,
        "last_notified_at": now,
        "acknowledged_at": None,
        "acknowledged_by_id": None,
    }


def _alerts_for(rule: AlertRule, holding: dict[str, Condition]) -> dict[str, Alert]:
    """The rule's open alerts and those of the label sets holding now; missing ones are created in one INSERT."""
    keys = sorted(holding)
    alerts = {
        a.labels_key: a
        for a in Alert.objects.filter(rule=rule).filter(~Q(state=AlertState.RESOLVED) | Q(labels_key__in=keys))
    }
    missing = [key for key in keys if key not in alerts]
    if missing:
        # Created resolved at version 0: the first real change ("" → pending/firing) is claimed like any other.
        # ignore_conflicts: another evaluator created some of them first; theirs are read back below.
        Alert.objects.bulk_create(
            [
                Alert(rule=rule, labels=holding[key].labels, labels_key=key, state=AlertState.RESOLVED)
                for key in missing
            ],
            ignore_conflicts=True,
        )
        alerts.update({a.labels_key: a for a in Alert.objects.filter(rule=rule, labels_key__in=missing)})
    return alerts


def _rule_labels(rule: AlertRule, observation: Observation) -> dict[str, str] | None:
    if rule.kind == RuleKind.METRIC:
        return (
            dict(observation.labels) if observation.kind == "metric" and observation.name == rule.metric_name else None
        )
    if observation.kind != "check" or rule.check_name not in ("", observation.name):
        return None
    return {"check": observation.name, **observation.labels}
