"""The performance app's part of /api/system/metrics (monitoring imports every installed app's health.py)."""

from monitoring.metrics import register_collector
from performance.metrics import PerformanceCollector

register_collector(PerformanceCollector)
