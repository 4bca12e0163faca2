"""The history dashboard on the embedded default (SQLite): every range answers from the same data, binned alike,
and the hourly rollup task runs there.

Both databases run the same ORM queries (opsportal.lib.timebins.EpochBin bins on each). A newcomer on the embedded
default must see the same charts.
"""

from __future__ import annotations

import json

from tests.opsportal.embedded import manage

SCRIPT = """
import json
from datetime import timedelta
from django.utils import timezone
from dashboards.ranges import time_range_parse
from dashboards.selectors import dashboard_history
from performance.models import RequestStat

minute = (timezone.now() - timedelta(minutes=30)).replace(second=0, microsecond=0)
minute -= timedelta(minutes=minute.minute % 5)
for offset, route, buckets in [(0, "admin/", [50] + [0] * 10), (1, "api/orders", [0] * 7 + [50, 0, 0, 0]),
                               (2, "<static>", [0] * 10 + [1000])]:
    RequestStat.objects.create(minute=minute + timedelta(minutes=offset), route=route, method="GET",
                               status_class="2xx", count=sum(buckets), sum_ms=1, max_ms=2900, buckets=buckets)
from performance.services import request_stats_rollup
request_stats_rollup()
out = {}
for key in ["1h", "24h", "7d", "1y"]:
    data = dashboard_history(time_range=time_range_parse(key=key))
    charts = {chart["id"]: chart for chart in data["charts"]}
    out[key] = {"step": data["range"]["step"], "cpu_x": charts["cpu"]["x"],
                "cpu_values": [value for series in charts["cpu"]["series"] for value in series["values"]],
                "latency": list(zip(charts["request_latency"]["x"], charts["request_latency"]["series"][0]["values"])),
                "timeline": {row["check"]: row["bands"] for row in data["timeline"]}}
# The hourly task on SQLite (no ON CONFLICT target there): computing the last hours again replaces their rows.
from monitoring.history import health_history_rollup
from monitoring.models import CheckDailyRollup, CheckRollup, MetricDailyRollup, MetricRollup
tables = [MetricRollup, CheckRollup, MetricDailyRollup, CheckDailyRollup]
counts = []
for _ in range(2):
    written = health_history_rollup(since=timezone.now() - timedelta(hours=3))
    counts.append([written] + [table.objects.count() for table in tables])
print(json.dumps({"minute": int(minute.timestamp()), "ranges": out, "rollups": counts}))
"""


def test_every_range_of_the_dashboard_works_on_the_embedded_default(tmp_path):
    (tmp_path / "secret_key").write_text("k" * 50)
    manage(tmp_path, "migrate", "--noinput", "-v0")
    manage(tmp_path, "seeddemo", "--days", "40", "--raw-days", "2", "--hosts", "web-1")
    result = manage(tmp_path, "shell", "-c", SCRIPT)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    ranges, minute = found["ranges"], found["minute"]
    first, again = found["rollups"]
    assert first[0] > 0 and first == again  # the same rows written, none doubled

    assert [ranges[key]["step"] for key in ["1h", "24h", "7d", "1y"]] == [60, 300, 3600, 86400]
    assert 57 <= len(ranges["1h"]["cpu_x"]) <= 61  # the seed ended a few seconds before this read
    assert 285 <= len(ranges["24h"]["cpu_x"]) <= 289 and {x % 300 for x in ranges["24h"]["cpu_x"]} == {0}
    assert 167 <= len(ranges["7d"]["cpu_x"]) <= 169
    assert 40 <= len(ranges["1y"]["cpu_x"]) <= 42
    for key in ranges:
        assert all(value is None or 0 <= value <= 100 for value in ranges[key]["cpu_values"]), key
        assert ranges[key]["timeline"], f"no status timeline for {key}"
    # Every minute of a day is one band of the hour range; a day's bands are five minutes each.
    day_bands = ranges["24h"]["timeline"]["database@demo"]  # seeddemo's hostless checks run on "demo"
    assert 285 <= len(day_bands) <= 289 and all(band[1] in (0, 1, 2) and 0 <= band[2] <= 1 for band in day_bands)
    # Request latency: the three minutes share one five-minute bin on the day chart, each its own on the hour chart;
    # the static route is left out, so the slowest real request (2,900 ms) bounds the p95.
    assert [point for point in ranges["24h"]["latency"] if point[0] == minute] == [[minute, 2900]]
    assert [at for at, _value in ranges["1h"]["latency"]] == [minute, minute + 60]
    # The week reads the hourly rollup of those minutes.
    assert [point for point in ranges["7d"]["latency"] if point[0] == minute - minute % 3600] == [
        [minute - minute % 3600, 2900]]
