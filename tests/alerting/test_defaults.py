"""Default rules and the beat schedule exist after migrate, once, and never overwrite an admin's edits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from alerting.defaults import create_default_rules
from alerting.models import AlertRule

pytestmark = pytest.mark.django_db


def test_the_default_rules_watch_what_the_issue_asks(settings):
    rules = {rule.key: rule for rule in AlertRule.objects.exclude(key=None)}
    assert rules["disk-full"].condition_text() == "disk_used_percent > 90"
    assert rules["disk-full"].for_duration == timedelta(minutes=5)
    assert rules["memory-full"].condition_text() == "memory_used_percent > 90"
    assert rules["memory-full"].for_duration == timedelta(minutes=5)
    assert (rules["check-critical"].kind, rules["check-critical"].check_name) == ("check", "")
    assert rules["check-critical"].for_duration == timedelta(minutes=2)
    assert (rules["host-silent"].kind, rules["host-silent"].check_name) == ("check", "host")
    assert (rules["host-silent"].check_status, rules["host-silent"].severity) == ("warning", "critical")
    assert rules["backup-failed"].event_name == "backup_failed"
    assert rules["backup-rpo"].metric_name == "backup_last_success_age_seconds"
    assert rules["backup-rpo"].threshold == settings.BACKUP_RPO.total_seconds()
    assert rules["performance-budget"].condition_text() == "perf_target_breached > 0"
    assert rules["performance-budget"].for_duration == timedelta(minutes=10)
    for rule in rules.values():
        rule.full_clean()  # every default passes the form's validation


def test_creating_defaults_again_keeps_edits_and_adds_nothing():
    disk = AlertRule.objects.get(key="disk-full")
    disk.threshold = 95
    disk.enabled = False
    disk.save()
    count = AlertRule.objects.count()
    assert create_default_rules() == []
    call_command("migrate", verbosity=0)
    disk.refresh_from_db()
    assert (disk.threshold, disk.enabled) == (95, False)
    assert AlertRule.objects.count() == count


def test_the_evaluation_safety_net_is_scheduled_on_the_monitoring_queue(settings):
    task = PeriodicTask.objects.get(name="alerting: evaluate rules")
    assert task.task == "alerting.tasks.evaluate"
    assert task.queue == "monitoring"
    assert task.interval.every == int(settings.ALERTING_EVALUATE_EVERY.total_seconds())
