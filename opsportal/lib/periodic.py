"""One background loop for the heartbeats and flushers: call a function every N seconds on a daemon thread.

Used by the backup progress heartbeat, the restore heartbeat, the monitoring host report and the request-timing
flusher. A round that raises is logged and the loop goes on (a database hiccup must not end a heartbeat); the
thread's database connections are closed when it ends, and after each round unless hold_connection is set.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import close_old_connections, connections


class PeriodicThread:
    def __init__(
        self,
        action: Callable[[], object],
        *,
        every: float,
        name: str,
        error_message: str,
        logger: logging.Logger,
        first_round_at_start: bool = False,
        hold_connection: bool = False,
    ) -> None:
        """action() runs every `every` seconds (and once at once if first_round_at_start) until stop().

        hold_connection keeps the thread's connection between rounds (a beat every few seconds), closing it only
        after an error and at the end; otherwise the thread holds no connection while it waits.
        """
        self.action = action
        self.every = every
        self.error_message = error_message
        self.logger = logger
        self.first_round_at_start = first_round_at_start
        self.hold_connection = hold_connection
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> PeriodicThread:
        self.thread.start()
        return self

    def stop(self, *, join_timeout: float | None = None) -> None:
        """Ask the loop to end after its current round; wait up to join_timeout seconds for it if given."""
        self.stop_event.set()
        if join_timeout is not None and self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=join_timeout)

    def _run(self) -> None:
        try:
            if self.first_round_at_start and not self.stop_event.is_set():
                self._round()
            while not self.stop_event.wait(self.every):
                self._round()
        finally:
            connections.close_all()  # this thread's own connections; Django would otherwise keep them forever

    def _round(self) -> None:
        try:
            if not self.hold_connection:
                close_old_connections()
            self.action()
        except Exception:
            self.logger.exception(self.error_message)
            connections.close_all()
        finally:
            if not self.hold_connection:
                connections.close_all()
