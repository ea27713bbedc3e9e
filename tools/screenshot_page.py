"""Take the README's screenshot of the page at /: the real server with a given model, a two-paragraph text
typed and tagged, one entity clicked so that its explanation shows; written as a full-page PNG.

    python tools/screenshot_page.py --model runs/glove [--output docs/serve.png] [--width 1200]

Needs the serve extra and Playwright (the Python package) with a chromium already installed (Debian's
/usr/bin/chromium by default; this never downloads a browser).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.serve._server import running_server  # noqa: E402

TEXT = ("Angela Merkel flew from Berlin to Paris on Tuesday to meet Jacques Chirac, the French president, "
        "before talks with the European Union.\n\n"
        "Reuters reported that Apple opened an office in Dublin, and that shares of Deutsche Bank rose in "
        "New York and London.")

# True once the result box shows the typed text (its marks' label tags left out): the new answer is in.
SHOWN_IS_TYPED = """(typed) => {
  const copy = document.getElementById("result").cloneNode(true);
  copy.querySelectorAll(".label").forEach((label) => label.remove());
  return copy.textContent === typed;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="model folder or .safetensors file")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "serve.png")
    parser.add_argument("--width", type=int, default=1200, help="viewport width in CSS pixels")
    parser.add_argument("--entity", help="the text of the entity to click (default: the longest one)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with running_server(args.model) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"], headless=True)
        page = browser.new_page(viewport={"width": args.width, "height": 800}, device_scale_factor=1)
        page.goto(server.url + "/")
        page.wait_for_function("() => document.getElementById('status').textContent.includes(' in ')")
        page.locator("#text").fill("")
        page.locator("#text").press_sequentially(TEXT)
        page.click("#tag")
        page.wait_for_function(SHOWN_IS_TYPED, arg=TEXT)
        marks = page.locator("mark.entity")
        if marks.count() == 0:
            raise SystemExit("the model found no entity in the text: nothing to click")
        texts = [marks.nth(i).evaluate("(mark) => mark.firstChild.textContent") for i in range(marks.count())]
        longest = max(range(len(texts)), key=lambda i: len(texts[i]))
        index = texts.index(args.entity) if args.entity in texts else longest
        marks.nth(index).click()
        page.wait_for_selector("#explanation:not([hidden])")
        page.mouse.move(0, 0)  # no hover outline in the picture
        args.output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.output), full_page=True)
        browser.close()
    print(f"wrote {args.output} ({texts[index]!r} explained)")


if __name__ == "__main__":
    main()
