"""Page-load probe: Debian's Chromium, headless, driven by Playwright's sync API.

Never a downloaded browser: Playwright gets `executable_path`. It records Navigation Timing (TTFB, DOMContentLoaded,
load event, all from navigation start) and Largest Contentful Paint where the browser reports it. A missing or
broken Chromium gives one "browser unavailable" sample instead of an exception.
"""

from __future__ import annotations

import os

from django.utils.translation import gettext as _

from opsportal.lib.instance import HEADER
from performance.probes import ProbeMeasurement, another_server

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

# Resolves with the navigation entry's timings; LCP is read from the buffered observer, waiting briefly at most.
_TIMINGS_JS = """
async () => {
  const nav = performance.getEntriesByType('navigation')[0];
  let lcp = null;
  if ((PerformanceObserver.supportedEntryTypes || []).includes('largest-contentful-paint')) {
    lcp = await new Promise((resolve) => {
      new PerformanceObserver((list) => {
        const entries = list.getEntries();
        resolve(entries[entries.length - 1].startTime);
      }).observe({type: 'largest-contentful-paint', buffered: true});
      setTimeout(() => resolve(null), 300);
    });
  }
  return {
    ttfb: nav.responseStart, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
    size: nav.transferSize || nav.encodedBodySize || null, lcp: lcp,
  };
}
"""


class LoginFailed(Exception):
    pass


def probe_page(
    *,
    url: str,
    expected_status: int,
    samples: int,
    timeout: float,
    chromium_path: str,
    login_url: str = "",
    username: str = "",
    password: str = "",
    expected_instance: str = "",
) -> list[ProbeMeasurement]:
    if not chromium_path or not os.access(chromium_path, os.X_OK):
        return [ProbeMeasurement(outcome="unavailable",
                                 error=_("browser unavailable: no Chromium at %s") % chromium_path)]
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            try:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS, timeout=timeout * 1000
                )
            except PlaywrightError as exc:
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                return [ProbeMeasurement(outcome="unavailable", error=_("browser unavailable: %s") % first_line[:500])]
            try:
                context = browser.new_context()
                context.set_default_timeout(timeout * 1000)
                if username:
                    try:
                        _log_in(context, login_url=login_url, username=username, password=password)
                    except (LoginFailed, PlaywrightError) as exc:
                        return [ProbeMeasurement(outcome="failed", error=_("login failed: %s") % _first_line(exc))]
                return [_one_load(context, url=url, expected_status=expected_status,
                                  expected_instance=expected_instance) for _ in range(samples)]
            finally:
                browser.close()
    except PlaywrightError as exc:  # the driver itself could not start
        return [ProbeMeasurement(outcome="unavailable", error=_("browser unavailable: %s") % _first_line(exc))]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:500]


def _log_in(context, *, login_url: str, username: str, password: str) -> None:
    """Django admin's login form; success is leaving the login page without an error note."""
    page = context.new_page()
    try:
        page.goto(login_url, wait_until="domcontentloaded")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.click("#login-form [type=submit]")
        if page.locator(".errornote").count() or page.locator("#login-form").count():
            # The message names the user, never the password.
            raise LoginFailed(_("the portal refused the service user %s") % username)
    finally:
        page.close()


def _one_load(context, *, url: str, expected_status: int, expected_instance: str) -> ProbeMeasurement:
    from playwright.sync_api import Error as PlaywrightError

    page = context.new_page()
    try:
        response = page.goto(url, wait_until="load")
        # loadEventEnd is set just after the load event's handlers finish; wait for it rather than read a zero.
        page.wait_for_function("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
        timings = page.evaluate(_TIMINGS_JS)
    except PlaywrightError as exc:
        return ProbeMeasurement(outcome="failed", error=_first_line(exc))
    finally:
        page.close()
    status = response.status if response is not None else None
    answered_by = (response.headers.get(HEADER.lower()) if response is not None else None)
    error = (
        another_server(url) if expected_instance and answered_by != expected_instance
        else ""
        if status == expected_status
        else _("HTTP %(status)s, expected %(expected)s")
        % {
            "status": status,
            "expected": expected_status,
        }
    )
    return ProbeMeasurement(
        outcome="failed" if error else "ok",
        duration_ms=timings["load"],
        http_status=status,
        ttfb_ms=timings["ttfb"],
        dom_content_loaded_ms=timings["dcl"],
        load_ms=timings["load"],
        lcp_ms=timings["lcp"],
        size_bytes=int(timings["size"]) if timings["size"] else None,
        error=error,
    )
