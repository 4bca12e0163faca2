"""`manage.py seeddemo --days N`: fill realistic health history (hourly and daily rollups for N days, raw minutes for
recent days), marked as demo data (hosts and series named demo-…); `seeddemo --remove` takes it away again."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Command(BaseCommand):
    @property
    def help(self) -> str:  # in the reader's language when asked; argparse wants a str, not a lazy string
        return gettext(
            "Fill N days of realistic health history: hourly and daily rollups for all of them, raw minute snapshots"
            " for the last. Demo hosts and series are named demo-…; --remove takes them all away again."
        )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=7, help=_("days of history (rollups), default 7"))
        parser.add_argument("--raw-days", type=int, default=None,
                            help=_("days of raw minute snapshots (default: the raw retention, at most --days)"))
        parser.add_argument("--hosts", default="web-1,worker-1,worker-2", help=_("host names, comma-separated"))
        parser.add_argument("--seed", type=int, default=7, help=_("random seed, for repeatable history"))
        parser.add_argument("--remove", action="store_true",
                            help=_("remove the demo history seeded before (real history stays)"))

    def handle(self, *args, days: int, raw_days: int | None, hosts: str, seed: int, remove: bool = False,
               **options) -> None:
        from monitoring.demo import health_history_remove_demo, health_history_seed

        if remove:
            removed = health_history_remove_demo()
            summary = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in removed.items())
            self.stdout.write(gettext("removed the demo history: %(summary)s") % {"summary": summary})
            return

        if days < 1:
            raise CommandError(gettext("--days must be at least 1"))
        if raw_days is None:
            raw_days = min(days, settings.MONITOR_RAW_RETENTION.days or 1)
        started = time.monotonic()
        counts = health_history_seed(days=days, raw_days=raw_days, seed=seed, demo=True,
                                     hosts=[host.strip() for host in hosts.split(",") if host.strip()])
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items())
        self.stdout.write(
            gettext("seeded %(days)s days (%(raw_days)s raw) in %(seconds).1f s: %(summary)s")
            % {"days": days, "raw_days": raw_days, "seconds": elapsed, "summary": summary}
        )
