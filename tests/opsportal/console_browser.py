"""Helpers for the operator's console browser tests: real Chromium at 1400×900 in English or Japanese, logged in as
a superuser, screenshots under test-artifacts/console/, and what a person checks on a page (nothing clipped, no
English msgid on a Japanese page)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from performance.probes.page import CHROMIUM_ARGS
from tests.conftest import ROOT
from tests.i18n.conftest import PLACEHOLDER, _english_pattern, untranslated_in

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "console"
PASSWORD = "pw-console-0123"
VIEWPORT = {"width": 1400, "height": 900}
LOCALES = {"en": "en-US", "ja": "ja-JP"}


@contextmanager
def console_page(base_url: str, language: str) -> Iterator[tuple[Page, list[str]]]:
    """A logged-in page whose browser asks for `language`, and the console errors of every page it shows."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT, locale=LOCALES[language])
            page.on("console", lambda message: errors.append(f"{page.url}: {message.text}")
                    if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
            page.goto(f"{base_url}/admin/login/?next=/admin/")
            page.fill("#id_username", "root")
            page.fill("#id_password", PASSWORD)
            page.click('input[type="submit"]')
            expect(page.locator("#operations-overview")).to_be_visible()
            yield page, errors
        finally:
            browser.close()


def shot(page: Page, name: str, language: str) -> Path:
    path = ARTIFACTS / f"{name}-{language}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def english_on_page(page: Page, selector: str = "body", *, new_msgids: tuple[str, ...] = (),
                    data: frozenset[str] = frozenset()) -> list[str]:
    """Our msgids the page shows in English: those of the catalog (via tests/i18n) and `new_msgids`, strings added
    since the catalog was last translated (these pass once the lead translates them). `data`: texts that are data
    and happen to equal a msgid (a queue named "backups")."""
    nodes = page.evaluate(
        r"""(selector) => {
            const texts = [];
            document.querySelectorAll(selector).forEach((root) => {
                const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    const parent = node.parentElement;
                    if (!parent || ["SCRIPT", "STYLE", "PRE", "TEXTAREA"].includes(parent.tagName)) { continue; }
                    if (!parent.getClientRects().length) { continue; }  // not displayed
                    const text = node.textContent.replace(/\s+/g, " ").trim();
                    if (text) { texts.push(text); }
                }
                root.querySelectorAll("[title]").forEach((element) => texts.push(element.title));
            });
            return texts;
        }""",
        selector,
    )
    nodes = [node for node in nodes if node not in data]
    found = untranslated_in(nodes)
    lowered = {node.casefold() for node in nodes}
    for msgid in new_msgids:
        pattern = _english_pattern(msgid) if PLACEHOLDER.search(msgid) else None
        if msgid.casefold() in lowered or (pattern and any(pattern.search(node) for node in nodes)):
            found.append(msgid)
    return sorted(set(found))


def overflowing(page: Page, selector: str) -> list[str]:
    """Elements matching `selector` whose content is wider than their box (clipped or scrolled sideways)."""
    return page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector))
            .filter((e) => e.scrollWidth > e.clientWidth + 1)
            .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}: ${e.scrollWidth} > ${e.clientWidth}`)""",
        selector,
    )


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")
