"""A backup's restore drill time (RTO) reads as rounded seconds in the list, on the run's page and the overview."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupRun
from tests.backups.conftest import make_run

pytestmark = pytest.mark.django_db

RAW_RTO = 0.6999860160000253


@pytest.fixture
def drilled() -> BackupRun:
    return make_run(verification=BackupRun.Verification.DRILL_PASSED, verified_at=timezone.now(),
                    drill_rto_seconds=RAW_RTO)


def test_the_run_list_shows_the_rto_rounded_with_its_unit(super_client, drilled):
    page = super_client.get(reverse("admin:backups_backuprun_changelist")).content.decode()

    assert "drill ok, RTO 0.70 s" in page
    assert "0.6999" not in page
    assert 'class="backup-status backup-status-succeeded"' in page


def test_the_run_page_shows_the_rto_rounded_with_its_unit(super_client, drilled):
    page = super_client.get(reverse("admin:backups_backuprun_change", args=[drilled.pk])).content.decode()

    assert "0.70 s" in page
    assert "0.6999" not in page
    assert "Restore drill duration (RTO)" in page


def test_the_overview_shows_the_rto_rounded_with_its_unit(super_client, drilled):
    page = super_client.get(reverse("admin:index")).content.decode()

    assert "RTO 0.70 s" in page
    assert "0.6999" not in page
