"""The evaluator: rules + observations + alert state → alert state changes, each recorded as an AlertTransition.

State machine per (rule, label set):

    (none/resolved) --condition holds--> pending --holds for `for`--> firing --clear for `resolve_after`--> resolved
    pending --condition clears--> resolved (never notified: it never fired)

Every change is a conditional UPDATE on (pk, version); only the evaluator whose UPDATE changed the row records the
transition, so evaluators racing over the same observations record (and later notify) each change once.

Durations start at the observations' own times: `for` runs from the time the condition was first observed, the clear
spell (`clear_since`) from the time of the first clear observation. An evaluation that ran late (a busy queue) thus
neither postpones a firing nor adds its delay to `resolve_after`; it only decides later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F

from alerting.models import Alert, AlertEvent, AlertRule, AlertState, AlertTransition, RuleKind
from alerting.models.labels import labels_key, labels_match
from alerting.models.rules import COMPARE, STATUS_RANK
from alerting.observations import Observation

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
            conditions = observation_conditions(rule=rule, observations=observations)
            transitions += rule_apply(
                rule=rule,
                conditions=conditions,
                now=now,
                observed=_observed(rule, observations),
                resolve_unobserved=resolve_unobserved,
            )
    return transitions


def observation_conditions(*, rule: AlertRule, observations: Iterable[Observation]) -> list[Condition]:
    conditions = []
    for observation in observations:
        labels = _rule_labels(rule, observation)
        if labels is None or not labels_match(labels, rule.label_matchers or {}):
            continue
        if rule.kind == RuleKind.METRIC:
            holds = observation.value is not None and COMPARE[rule.comparator](observation.value, rule.threshold)
        else:
            holds = STATUS_RANK.get(observation.status or "", 0) >= STATUS_RANK[rule.check_status]
        if holds:
            conditions.append(Condition(labels, observation.value, observation.message, observation.at))
    return conditions


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

    One transaction per rule: one commit instead of one per alert. Alerts are visited in labels_key order, so two
    evaluators racing lock the same rows in the same order and never deadlock; the loser's conditional UPDATEs then
    find a newer version and change nothing.
    """
    holding = {labels_key(c.labels): c for c in conditions}
    transitions: list[AlertTransition] = []
    with transaction.atomic():
        open_alerts = {a.labels_key: a for a in Alert.objects.filter(rule=rule).exclude(state=AlertState.RESOLVED)}
        for key in sorted(holding.keys() | open_alerts.keys()):
            condition = holding.get(key)
            if condition is not None:
                alert = open_alerts.get(key) or _alert_for(rule, key, condition.labels)
                transitions += _step_holding(rule, alert, condition, now)
            elif resolve_unobserved or key in (observed or {}):
                transitions += _step_clear(rule, alert=open_alerts[key], now=now, last=(observed or {}).get(key))
    return transitions


def _step_holding(rule: AlertRule, alert: Alert, condition: Condition, now: datetime) -> list[AlertTransition]:
    observed = {"last_value": condition.value, "last_message": condition.message, "last_observed_at": condition.at}
    if alert.state == AlertState.RESOLVED:
        since = min(condition.at, now)
        if now - since >= rule.for_duration - SAMPLING_SLACK:
            fired = _transition(
                alert,
                AlertState.FIRING,
                happened_at=since + rule.for_duration,
                condition=condition,
                fields={**observed, **_firing_fields(since, since + rule.for_duration, now)},
            )
        else:
            fired = _transition(
                alert,
                AlertState.PENDING,
                happened_at=since,
                condition=condition,
                fields={**observed, "active_since": since, "clear_since": None},
            )
        return [fired] if fired else []
    if alert.state == AlertState.PENDING:
        if now - alert.active_since >= rule.for_duration - SAMPLING_SLACK:
            fired = _transition(
                alert,
                AlertState.FIRING,
                happened_at=alert.active_since + rule.for_duration,
                condition=condition,
                fields={**observed, **_firing_fields(alert.active_since, alert.active_since + rule.for_duration, now)},
            )
            return [fired] if fired else []
        _update(alert, observed)
        return []
    # Firing: the condition still holds (a clear spell shorter than resolve_after is forgotten); maybe remind.
    due = (
        rule.repeat_interval
        and alert.acknowledged_at is None
        and alert.last_notified_at is not None
        and now - alert.last_notified_at >= rule.repeat_interval
    )
    if due:
        reminder = _transition(
            alert,
            AlertState.FIRING,
            happened_at=now,
            condition=condition,
            fields={**observed, "clear_since": None, "last_notified_at": now},
        )
        return [reminder] if reminder else []
    _update(alert, {**observed, "clear_since": None})
    return []


def _step_clear(rule: AlertRule, *, alert: Alert, now: datetime, last: Condition | None) -> list[AlertTransition]:
    # The value that shows the condition cleared (none when the label set is simply no longer observed).
    seen = (
        {"last_value": last.value, "last_message": last.message, "last_observed_at": last.at}
        if last
        else {"last_value": None, "last_message": ""}
    )
    # When the condition was first seen clear: the clear observation's time (never later than now), else now.
    cleared_at = min(last.at, now) if last else now
    if alert.state == AlertState.PENDING:
        gone = _transition(
            alert,
            AlertState.RESOLVED,
            happened_at=cleared_at,
            condition=last,
            fields={**seen, "active_since": None, "resolved_at": cleared_at},
        )
        return [gone] if gone else []
    # Event rules already waited `resolve_after` without events before their condition cleared.
    resolve_after = timedelta(0) if rule.kind == RuleKind.EVENT else rule.resolve_after
    clear_since = alert.clear_since or cleared_at
    if now - clear_since >= resolve_after - SAMPLING_SLACK:
        resolved = _transition(
            alert,
            AlertState.RESOLVED,
            happened_at=clear_since,
            condition=last,
            fields={**seen, "resolved_at": clear_since, "active_since": None, "clear_since": None},
        )
        return [resolved] if resolved else []
    _update(alert, {**seen, "clear_since": clear_since})
    return []


def _firing_fields(since: datetime, fired_at: datetime, now: datetime) -> dict:
    return {
        "active_since": since,
        "clear_since": None,
        "fired_at": fired_at,
        "resolved_at": None,
        "last_notified_at": now,
        "acknowledged_at": None,
        "acknowledged_by": None,
    }


def _transition(
    alert: Alert, new_state: str, *, happened_at: datetime, fields: dict, condition: Condition | None = None
) -> AlertTransition | None:
    """Claim the change with a conditional UPDATE; record the transition only if this caller made it."""
    with transaction.atomic():
        changed = Alert.objects.filter(pk=alert.pk, version=alert.version).update(
            state=new_state, version=F("version") + 1, **fields
        )
        if changed != 1:
            return None
        return AlertTransition.objects.create(
            alert=alert,
            old_state="" if alert.version == 0 else alert.state,
            new_state=new_state,
            happened_at=happened_at,
            value=condition.value if condition else None,
            message=condition.message if condition else "",
        )


def _update(alert: Alert, fields: dict) -> None:
    # Observed values only; a racing evaluator that changed the state meanwhile wins, so the version must match.
    Alert.objects.filter(pk=alert.pk, version=alert.version).update(**fields)


def _alert_for(rule: AlertRule, key: str, labels: dict[str, str]) -> Alert:
    alert = Alert.objects.filter(rule=rule, labels_key=key).first()
    if alert is not None:
        return alert
    try:
        with transaction.atomic():
            # Created resolved at version 0: the first real change ("" → pending/firing) is claimed like any other.
            return Alert.objects.create(rule=rule, labels=labels, labels_key=key, state=AlertState.RESOLVED)
    except IntegrityError:  # another evaluator created it first
        return Alert.objects.get(rule=rule, labels_key=key)


def _rule_labels(rule: AlertRule, observation: Observation) -> dict[str, str] | None:
    if rule.kind == RuleKind.METRIC:
        return (
            dict(observation.labels) if observation.kind == "metric" and observation.name == rule.metric_name else None
        )
    if observation.kind != "check" or rule.check_name not in ("", observation.name):
        return None
    return {"check": observation.name, **observation.labels}


def _observed(rule: AlertRule, observations: list[Observation]) -> dict[str, Condition]:
    observed: dict[str, Condition] = {}
    for observation in observations:
        labels = _rule_labels(rule, observation)
        if labels is not None and labels_match(labels, rule.label_matchers or {}):
            observed[labels_key(labels)] = Condition(labels, observation.value, observation.message, observation.at)
    return observed
