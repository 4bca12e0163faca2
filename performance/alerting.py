"""What the performance app offers alert rules: its observation providers (alerting imports every installed app's
alerting.py, see alerting/observations.py)."""

from alerting.observations import register_provider
from performance.observations import METRIC_BREACHED, METRIC_P95, METRIC_UP, performance_observations
from performance.route_observations import ROUTE_METRICS, route_observations

register_provider(performance_observations, metrics=[METRIC_BREACHED, METRIC_P95, METRIC_UP])
register_provider(route_observations, metrics=ROUTE_METRICS)  # real traffic, per route
