"""Signals for the alerting rules and any other listener.

budget_breached: a target's p95 over the budget window went above its budget (sent once per breach, on the
    transition). kwargs: target (PerfTarget), p95_ms (float), budget_ms (int), at (datetime).
budget_recovered: the p95 came back within budget. Same kwargs.
"""

from django.dispatch import Signal

budget_breached = Signal()
budget_recovered = Signal()
