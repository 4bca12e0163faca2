"""One time-bucketing rule for both databases: EpochBin bins in the database exactly as bin_start does in Python,
and JsonItemInt reads a JSON array's items (missing ones are NULL). This file runs on PostgreSQL and, with
TEST_DATABASE_URL= (empty), on the embedded SQLite: the same assertions hold on each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum

from monitoring.models import HealthSnapshot, MetricSample
from opsportal.lib.timebins import EpochBin, JsonItemInt, bin_start, rows
from performance.models import RequestStat

pytestmark = pytest.mark.django_db

MOMENTS = [
    datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC),  # on every boundary
    datetime(2026, 12, 4, 10, 4, 59, 999_999, tzinfo=UTC),  # the last microsecond of a five-minute bin
    datetime(2026, 12, 4, 10, 5, 0, 1, tzinfo=UTC),
    datetime(2026, 12, 4, 23, 59, 30, 500_000, tzinfo=UTC),
    datetime(2026, 12, 5, 0, 0, 0, tzinfo=UTC),  # a new UTC day
]


@pytest.mark.parametrize("step", [None, 60, 300, 3600, 86400])
def test_a_bin_is_the_epoch_second_python_computes_for_it(step):
    snapshot = HealthSnapshot.objects.create(taken_at=MOMENTS[0], status="ok", duration_ms=1)
    MetricSample.objects.bulk_create([MetricSample(snapshot=snapshot, taken_at=moment, name="m", value=index)
                                      for index, moment in enumerate(MOMENTS)])

    found = rows(MetricSample.objects.order_by("taken_at").annotate(at=EpochBin("taken_at", step)), "at", "value")

    assert [at for at, _value in found] == [bin_start(moment, step or 1) for moment in MOMENTS]


def test_grouping_by_the_bin_adds_up_the_rows_in_it():
    snapshot = HealthSnapshot.objects.create(taken_at=MOMENTS[0], status="ok", duration_ms=1)
    MetricSample.objects.bulk_create([MetricSample(snapshot=snapshot, taken_at=MOMENTS[0] + timedelta(seconds=s),
                                                   name="m", value=1) for s in (0, 10, 299, 300, 601)])

    found = rows(MetricSample.objects.annotate(at=EpochBin("taken_at", 300)).values("at").annotate(
        total=Sum("value")).order_by("at"), "at", "total")

    start = int(MOMENTS[0].timestamp())
    assert found == [(start, 3.0), (start + 300, 1.0), (start + 600, 1.0)]


def test_a_bin_that_does_not_divide_a_day_is_refused():
    with pytest.raises(ValueError, match="7 s"):
        EpochBin("taken_at", 7)


def test_json_items_are_summed_per_index_and_a_missing_item_counts_nothing():
    for buckets in ([1, 2, 3], [10, 20], [100]):
        RequestStat.objects.create(minute=MOMENTS[0], route="r", method="GET", status_class="2xx", count=1,
                                   sum_ms=1, max_ms=1, buckets=buckets)

    sums = RequestStat.objects.aggregate(**{f"b{index}": Sum(JsonItemInt("buckets", index)) for index in range(4)})

    assert sums == {"b0": 111, "b1": 22, "b2": 3, "b3": None}
