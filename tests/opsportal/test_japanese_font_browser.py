"""No tofu: a Japanese page's glyphs are drawn from a Japanese font, not as the missing-glyph box.

Chromium draws a character no installed font has as the font's .notdef glyph, the same empty box for every
character. The check draws characters of the page's text on a canvas in the page's own font and compares the pixels:
with a Japanese font each kanji is its own shape; without one every kanji is the box drawn for a code point no font
has (U+10FFFD). The negative control runs the same check in a Chromium whose fontconfig sees no Japanese font and
expects the box, so the check is known to fail when the font is missing (scripts/services.sh installs
fonts-ipafont-gothic)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import sync_playwright

from performance.probes.page import CHROMIUM_ARGS
from tests.opsportal.console_browser import CHROMIUM, PASSWORD, VIEWPORT, console_page

pytestmark = [pytest.mark.browser]

# Characters of the Japanese overview ("運用の概要") and a code point that no font has.
KANJI = ["運", "用", "概", "要"]
MISSING = "\U0010fffd"
GLYPHS = r"""([characters, missing]) => {
    const font = getComputedStyle(document.querySelector("h1, body")).font;
    const draw = (text) => {
        const canvas = document.createElement("canvas");
        canvas.width = 64; canvas.height = 64;
        const context = canvas.getContext("2d");
        context.font = font.replace(/\d+(\.\d+)?px/, "40px");
        context.fillStyle = "#000";
        context.textBaseline = "top";
        context.fillText(text, 4, 4);
        return canvas.toDataURL();
    };
    const box = draw(missing);
    return {font, box, shapes: characters.map(draw)};
}"""


def drawn_as_boxes(page) -> list[str]:
    """The characters of KANJI the page's font draws as the missing-glyph box (or all alike)."""
    glyphs = page.evaluate(GLYPHS, [KANJI, MISSING])
    boxes = [char for char, shape in zip(KANJI, glyphs["shapes"], strict=True) if shape == glyphs["box"]]
    if len(set(glyphs["shapes"])) == 1:  # four different kanji drawn the same: a box of some other kind
        boxes = list(KANJI)
    return boxes


@pytest.mark.django_db(transaction=True)
def test_a_japanese_page_draws_japanese_glyphs_not_boxes(live_server):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    with console_page(live_server.url, "ja") as (page, errors):
        assert "運用の概要" in page.locator("h1").inner_text()
        assert drawn_as_boxes(page) == [], "the Japanese overview draws kanji as boxes: no Japanese font"
        assert page.evaluate("document.fonts.check('16px sans-serif', '運用の概要')")
        assert errors == []


def test_the_check_sees_boxes_when_no_japanese_font_is_installed(tmp_path):
    """Negative control: Chromium with a fontconfig that lists only the Latin fonts draws the kanji as boxes."""
    latin = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation"]
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        + "".join(f"<dir>{folder}</dir>" for folder in latin)
        + f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                             env={"FONTCONFIG_FILE": str(config), "HOME": str(tmp_path)})
        try:
            page = browser.new_page(viewport=VIEWPORT, locale="ja-JP")
            page.set_content('<html lang="ja"><body><h1>運用の概要</h1></body></html>')
            assert drawn_as_boxes(page) == KANJI
        finally:
            browser.close()
