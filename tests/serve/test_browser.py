"""The page at / in a real browser (Playwright driving Debian's chromium) against the real server: typed text
gets the in-process Tagger's entities highlighted, each with its probability; clicking one explains it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not shutil.which(CHROMIUM):
    pytest.skip(f"needs a chromium browser ({CHROMIUM} not found)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install playwright)")
pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install \"window-ner[serve]\"")

from tests.ner._trained import multiclass_model  # noqa: E402
from tests.serve._server import Server, running_server  # noqa: E402
from window_ner.ner.inference.tagger import Tagger  # noqa: E402

SENTENCE = "John Smith of Google met officials in London and Germany on Monday."
PARAGRAPHS = ("Reuters reported that the European Union opened an office in Dublin.\n\n"
              "John Smith of Google met officials in London and Germany on Monday.\n"
              "Angela Merkel flew from Berlin to Paris.")

# The text the result box shows, without the label tags inside the marks.
SHOWN_TEXT = """() => {
  const copy = document.getElementById("result").cloneNode(true);
  copy.querySelectorAll(".label").forEach((label) => label.remove());
  return copy.textContent;
}"""
MARKS = """() => Array.from(document.querySelectorAll("mark.entity")).map((mark) => ({
  text: mark.firstChild.textContent, label: mark.dataset.label, title: mark.title,
  top: mark.getBoundingClientRect().top }))"""


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return multiclass_model().load()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server(multiclass_model().folder) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/")
    page.wait_for_function("() => document.getElementById('status').textContent.includes(' in ')")  # its example
    yield page
    page.close()
    assert not errors, errors


def tag(page: Any, text: str) -> None:
    """Clear the text box, type ``text``, click Tag and wait until the result shows that text."""
    box = page.locator("#text")
    box.fill("")
    box.press_sequentially(text)
    page.click("#tag")
    page.wait_for_function(f"(expected) => ({SHOWN_TEXT})() === expected", arg=text)


def test_typed_sentence_gets_the_taggers_entities(page: Any, tagger: Tagger) -> None:
    tag(page, SENTENCE)
    expected = tagger(SENTENCE)
    assert expected, "the sample model should find entities in the sentence"
    marks = page.evaluate(MARKS)
    assert [(m["text"], m["label"]) for m in marks] == [(e.text, e.label) for e in expected]
    assert page.locator("#status").inner_text().startswith(f"{len(expected)} entit")
    assert set(page.locator("#legend span").all_inner_texts()) == {e.label for e in expected}

    first = page.locator("mark.entity").first
    first.hover()
    title = first.get_attribute("title")
    shown = re.search(r"p = ([0-9.]+)", title)
    assert expected[0].label in title and shown, title
    assert float(shown.group(1)) == pytest.approx(expected[0].score, abs=6e-4)


def test_clicking_an_entity_explains_it(page: Any, tagger: Tagger) -> None:
    tag(page, SENTENCE)
    entities = tagger(SENTENCE)
    chosen = max(entities, key=lambda e: e.end - e.start)
    index = entities.index(chosen)
    page.locator(f'mark.entity[data-index="{index}"]').click()
    page.wait_for_selector("#explanation:not([hidden])")
    (explanation,) = tagger.explain(SENTENCE, [(chosen.start, chosen.end, chosen.label)])
    assert chosen.text in page.locator("#explanation-title").inner_text()
    rows = page.evaluate("""() => Array.from(document.querySelectorAll("#explanation-table tbody tr")).map(
      (row) => ({ word: row.cells[0].textContent, weight: Number(getComputedStyle(row.cells[0]).fontWeight) }))""")
    assert [row["word"] for row in rows] == [w.word for w in explanation.words]
    bold = [row["word"] for row in rows if row["weight"] >= 700]
    assert bold == [w.word for w in explanation.words if w.in_entity]
    assert " ".join(bold) == chosen.text
    assert page.locator("mark.entity.chosen").count() == 1


def test_paragraphs_keep_their_line_breaks_and_every_entity(page: Any, tagger: Tagger) -> None:
    tag(page, PARAGRAPHS)  # tag() waits until the shown text is the typed one, line breaks included
    expected = tagger(PARAGRAPHS)
    marks = page.evaluate(MARKS)
    assert [(m["text"], m["label"]) for m in marks] == [(e.text, e.label) for e in expected]
    first_break = PARAGRAPHS.index("\n")
    above = [m["top"] for m, e in zip(marks, expected, strict=True) if e.start < first_break]
    below = [m["top"] for m, e in zip(marks, expected, strict=True) if e.start > first_break]
    assert above and below and max(above) < min(below), "the second paragraph should be drawn below the first"
    assert page.evaluate("() => getComputedStyle(document.getElementById('result')).whiteSpace") == "pre-wrap"


def test_empty_text_shows_the_error_box(page: Any) -> None:
    page.locator("#text").fill("")
    page.click("#tag")
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.inner_text().strip()
    assert page.locator("#explanation").is_hidden()


def test_an_entity_is_never_split_across_lines(page: Any, tagger: Tagger) -> None:
    text = "Shares rose in New York and New Delhi while the European Union met in Buenos Aires. " * 3
    tag(page, text.strip())
    assert any(" " in e.text for e in tagger(text.strip())), "the test needs multi-word entities"
    for width in range(360, 800, 16):  # at some width a multi-word entity reaches the end of a line
        page.set_viewport_size({"width": width, "height": 900})
        boxes = page.evaluate("() => Array.from(document.querySelectorAll('mark.entity')).map("
                              "(mark) => [mark.firstChild.textContent, mark.getClientRects().length])")
        assert all(count == 1 for _, count in boxes), (width, [b for b in boxes if b[1] != 1])


def test_emoji_and_markup_keep_offsets_and_stay_text(page: Any, tagger: Tagger) -> None:
    text = "😀🎉 <b>Reporters</b> met officials in London and Germany on Monday, says Reuters in Dublin."
    tag(page, text)  # offsets count code points; an emoji is two UTF-16 units in the browser
    expected = tagger(text)
    assert expected
    marks = page.evaluate(MARKS)
    assert [(m["text"], m["label"]) for m in marks] == [(e.text, e.label) for e in expected]
    assert page.locator("#result b").count() == 0
