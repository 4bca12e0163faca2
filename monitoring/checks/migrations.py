"""Unapplied migrations are a warning: the code expects tables or columns the database does not have yet."""

from __future__ import annotations

from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue
from monitoring.messages import Message
from monitoring.messages import plural_msgids as ngettext  # extracted as a plural pair, rendered when read
from monitoring.registry import register


@register
class MigrationsCheck(HealthCheck):
    name = "migrations"
    uses_database = True
    critical = False
    # Loading the migration graph costs tens of milliseconds and its answer only changes on deploy.
    cache_for = 60.0

    def run(self) -> CheckOutcome:
        pending: list[str] = []
        for alias in connections:
            executor = MigrationExecutor(connections[alias])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
            pending += [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
        values = {"unapplied": pending}
        samples = [MetricValue("migrations_unapplied", len(pending), {}, "Migrations not applied yet.")]
        if not pending:
            return self.ok(Message(_("all migrations applied")), values, samples)
        singular, plural = ngettext("%(count)d unapplied migration: %(names)s",
                                    "%(count)d unapplied migrations: %(names)s", len(pending))
        message = Message(singular, {"count": len(pending), "names": ", ".join(pending[:5])}, plural=plural,
                          count="count")
        return self.warning(message, values, samples)
