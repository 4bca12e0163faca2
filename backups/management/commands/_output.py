"""Small formatting helpers shared by the backup commands."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from django.utils.translation import gettext as _

from opsportal.lib.humanize import human_duration


def human_bytes(count: int | None) -> str:
    value = float(count or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def cli_actor() -> str:
    """Who ran a command, for the run's "triggered by": the operating-system user."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"



class ProgressPrinter:
    """A job's progress on a terminal (one bar redrawn with \\r), or else a plain line every few seconds
    ("backup #5: 25.1 MB of about 60.0 MB (42 %)"), so logs and pipes stay readable."""

    WIDTH = 24

    def __init__(self, out, label: str, *, plain_every: float = 5.0) -> None:
        self.out = out
        self.label = label
        self.plain_every = plain_every
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.drawn = False
        self.last_plain: float | None = None
        self.last_line = ""
        # update() may come from a heartbeat thread while the command's own thread prints log lines (line())
        self._lock = threading.RLock()

    def update(self, figures, current: str = "") -> None:
        """`figures`: backups.services.progress.Figures (done, estimate, percent, ETA)."""
        with self._lock:
            self._update(figures, current)

    def line(self, text: str, out=None) -> None:
        """Print a whole line (a log line, on `out` or the bar's stream) above the bar, which is drawn again below."""
        out = out or self.out
        with self._lock:
            if self.drawn:
                self.out.write("\r\x1b[K", ending="")  # the bar's line is cleared; the log line takes its place
                self.out.flush()
                out.write(text)
                out.flush()
                self.out.write(self.last_line, ending="")
                self.out.flush()
            else:
                out.write(text)

    def _update(self, figures, current: str) -> None:
        done = human_bytes(figures.done)
        if figures.total:
            amount = _("%(done)s of about %(total)s") % {"done": done, "total": human_bytes(figures.total)}
        else:
            amount = _("%(done)s read") % {"done": done}
        percent = " (" + _("%(percent)s %%") % {"percent": figures.percent} + ")" if figures.percent is not None else ""
        if self.tty:
            self._draw(figures, f"{amount}{percent}", current)
            return
        now = time.monotonic()
        if self.last_plain is not None and now - self.last_plain < self.plain_every:
            return
        self.last_plain = now
        self.out.write(f"{self.label}: {amount}{percent}" + (f" {current}" if current else ""))

    def _draw(self, figures, amount: str, current: str) -> None:
        bar = ""
        if figures.percent is not None:
            filled = round(self.WIDTH * figures.percent / 100)
            bar = f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] "
        eta = ""
        if figures.eta_seconds is not None:
            left = human_duration(timedelta(seconds=round(figures.eta_seconds)))
            eta = "  " + _("about %(time)s left") % {"time": left}
        line = f"{self.label} {bar}{amount}{eta}  {current}".rstrip()
        self.last_line = "\r\x1b[K" + line
        self.out.write(self.last_line, ending="")  # back to the line's start, clear it, draw again
        self.out.flush()
        self.drawn = True

    def finish(self) -> None:
        with self._lock:
            if self.drawn:
                self.out.write("")  # ends the redrawn line
                self.drawn = False
