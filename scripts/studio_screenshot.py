"""Generate docs/images/studio.png: the studio on the bundled YouTube spam set, with a few LFs, in the system's
chromium (driven by playwright; no browser is downloaded).

    python scripts/studio_screenshot.py [--out docs/images/studio.png]

Needs ``pip install 'labelfuse[browser]'`` and ``apt-get install chromium``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from labelfuse.labeling import keyword_lf, regex_lf
from labelfuse.studio.code import lf_from_code
from labelfuse.studio.data import load_studio_data
from labelfuse.studio.runner import BackgroundStudio

REPO = Path(__file__).resolve().parent.parent
SHORT_COMMENT = '''@labeling_function()
def short_comment(x):
    # short comments are rarely spam
    return HAM if len(x.text.split()) < 5 else ABSTAIN
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "studio.png")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no chromium on PATH: apt-get install chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    ws, names = load_studio_data("wrench_youtube")
    ws.add(keyword_lf("kw_subscribe", ["subscribe", "my channel"], label=1))
    ws.add(regex_lf("re_link", r"https?://|www\.", label=1))
    ws.add(keyword_lf("kw_check_out", ["check out", "check it out"], label=1))
    ws.add(lf_from_code(SHORT_COMMENT, names))
    with BackgroundStudio(ws, class_names=names, title="wrench_youtube") as studio, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
        page.goto(studio.url)
        page.wait_for_selector('#lf-table tbody tr[data-name="short_comment"]')
        # one more edit through the page, as a user would make it: a keyword LF for "song" (ham)
        page.fill("#lf-name", "kw_song")
        page.fill("#keywords", "song, love this")
        page.select_option("#label", label=names[0])
        page.click("#save-btn")
        page.wait_for_selector('#lf-table tbody tr[data-name="kw_song"]')
        page.click('#lf-table tbody tr[data-name="kw_subscribe"] td.lf-name')
        page.wait_for_selector("#row-table tbody tr[data-row]")
        page.click("#row-table tbody tr[data-row] td:nth-child(2)")
        page.wait_for_selector("#nb-table tbody tr")
        page.wait_for_timeout(1200)  # the new-row highlight fades
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
