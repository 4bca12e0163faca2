"""Refresh the guides' screenshots (docs/guides/images/) from the browser test that visits every admin page.

    .venv/bin/python scripts/guide_screenshots.py            # runs the English half of the test, then copies
    .venv/bin/python scripts/guide_screenshots.py --no-run   # copies what the last `make test` left

The test (tests/opsportal/test_every_admin_page_browser.py) seeds a realistic portal and screenshots every page in
Chromium at 1400×900 under test-artifacts/console/pages/; this copies the English shots the guides show. It uses
the test database settings of the test suite (TEST_DATABASE_URL, TEST_REDIS_URL).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "test-artifacts" / "console" / "pages"
IMAGES = ROOT / "docs" / "guides" / "images"
TEST = "tests/opsportal/test_every_admin_page_browser.py"
# page screenshot (English) → file in docs/guides/images/
SHOTS = {
    "overview-en.png": "overview.png",
    "backups-backuprun-running-en.png": "backup-run-progress.png",
    "dashboard-en.png": "dashboard.png",
    "alerting-alertrule-add-en.png": "alert-rule-form.png",
}
MAX_BYTES = 300 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="copy the screenshots of the last test run")
    args = parser.parse_args()
    if not args.no_run:
        subprocess.run([sys.executable, "-m", "pytest", "-q", f"{TEST}::"
                        "test_every_admin_page_renders_fits_and_speaks_the_language[en]"], cwd=ROOT, check=True)
    IMAGES.mkdir(parents=True, exist_ok=True)
    for source, target in SHOTS.items():
        path = PAGES / source
        if path.stat().st_size > MAX_BYTES:
            print(f"{path} is larger than {MAX_BYTES // 1024} KB: not copied", file=sys.stderr)
            return 1
        shutil.copyfile(path, IMAGES / target)
        print(f"{IMAGES / target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
