"""``window-ner explain``: why each entity got its label, word by word of its windows."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import IO, Any

from window_ner.cli._common import Formatter, json_line, utf8_argument, visible
from window_ner.errors import InputError
from window_ner.ner.inference.explain import Explanation
from window_ner.ner.inference.tagger import Tagger

HELP = "show why the tagger chose each entity's label: the gradient at its window words"
BAR = 12  # characters of the longest bar on each side of the axis
COLOURS = {"+": "\x1b[32m", "-": "\x1b[31m", "bold": "\x1b[1m", "dim": "\x1b[2m", "end": "\x1b[0m"}


def add_parser(commands: Any) -> None:
    explain = commands.add_parser(
        "explain", help=HELP, formatter_class=Formatter,
        description="For each entity the tagger finds in TEXT, the words of its windows and how much each moves "
        "the log-probability of the entity's label, log p(span): the gradient of log p(span) with respect to "
        "the word's vector g (the lecture's 'the gradient at the input says how much the output changes when "
        "the input changes'), drawn as a bar of g . x, the first-order change were the vector removed; then "
        "the real change when the word is replaced by the unknown word (occlusion), beside its first-order "
        "estimate g . (x - x_unk): where the two differ, the straight-line picture does not hold. Bars right "
        "(green) speak for the label, bars left (red) against it.",
        epilog='examples:\n  window-ner explain --model runs/glove "Angela Merkel flew to Paris."\n'
        '  window-ner explain --model runs/glove --span 0:6:ORG "Berlin said no."   # a span of your choice\n'
        '  window-ner explain --model runs/glove --format jsonl "Merkel met Chirac." | jq .\n'
        '  window-ner explain --model runs/glove --graph window.svg "Merkel met Chirac."',
    )
    explain.add_argument("--model", required=True, type=Path, help="model folder or .safetensors file")
    explain.add_argument("text", help="the text to explain, or '-' to read it from stdin")
    explain.add_argument("--span", action="append", type=_span, metavar="START:END[:LABEL]",
                         help="explain this character span (with this label; else its most probable) instead "
                         "of the entities found; may be repeated")
    explain.add_argument("--format", choices=("text", "jsonl"), default="text",
                         help="text: a table with bars per entity; jsonl: one JSON object per entity")
    explain.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                         help="colour the bars (auto: on a terminal, unless NO_COLOR is set)")
    explain.add_argument("--graph", type=Path, metavar="FILE.svg",
                         help="also draw the computation graph of the first entity's first window (needs "
                         "Graphviz's dot; a .dot file name writes the DOT text)")
    explain.set_defaults(handler=run)


def _span(text: str) -> tuple[int, int] | tuple[int, int, str]:
    parts = text.split(":")
    try:
        if len(parts) in (2, 3):
            start, end = int(parts[0]), int(parts[1])
            if 0 <= start < end:
                return (start, end, parts[2]) if len(parts) == 3 else (start, end)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected START:END or START:END:LABEL with 0 <= START < END, not {text!r}")


def run(args: argparse.Namespace) -> int:
    text = _stdin() if args.text == "-" else utf8_argument(args.text, "on stdin with '-'")
    if not text.strip():
        raise InputError("nothing to explain: the text is empty")
    tagger = Tagger.load(args.model)
    explanations = tagger.explain(text, spans=args.span)
    out = sys.stdout
    if args.format == "jsonl":
        for explanation in explanations:
            out.write(json_line(explanation.to_dict()) + "\n")
    else:
        colour = args.color == "always" or (args.color == "auto" and out.isatty() and not os.environ.get("NO_COLOR"))
        write_text(explanations, out, colour)
    if args.graph is not None:
        _draw(tagger, text, args.graph, explanations)
    return 0


def _stdin() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"standard input is not UTF-8 text (byte {error.start + 1} is {data[error.start]:#04x}); "
                         "convert it to UTF-8") from None


def write_text(explanations: list[Explanation], out: IO[str], colour: bool) -> None:
    """The explanations as tables with signed bars, one per entity."""
    if not explanations:
        out.write("no entities found\n")
        return
    utf8 = (getattr(out, "encoding", None) or "").lower().replace("-", "") == "utf8"
    block = "█" if utf8 else "#"
    paint = (lambda key, s: f"{COLOURS[key]}{s}{COLOURS['end']}" if s else s) if colour else (lambda key, s: s)
    for n, explanation in enumerate(explanations):
        entity = explanation.entity
        if n:
            out.write("\n")
        out.write(paint("bold", visible(f"{entity.text}  {entity.label}")) + f"  p = {entity.score:.3f}  "
                  f"(log p = {explanation.log_prob:+.3f}; tags {' '.join(explanation.tags)})\n")
        features = [f.name for f in explanation.words[0].features]
        width = max(len(visible(w.word)) for w in explanation.words) + 2
        header = (f"  {'word':<{width}} {'gradient . input':^{2 * BAR + 1}} {'g.x':>8} {'occlusion':>9} "
                  f"{'1st order':>9} {'|g|':>7}" + "".join(f" {name:>8}" for name in features))
        out.write(paint("dim", header) + "\n")
        scale = max(abs(w.gradient_x_input) for w in explanation.words) or 1.0
        for word in explanation.words:
            name = visible(f"[{word.word}]" if word.in_entity else word.word)
            length = round(BAR * abs(word.gradient_x_input) / scale)
            left = paint("-", block * length) if word.gradient_x_input < 0 else ""
            right = paint("+", block * length) if word.gradient_x_input > 0 else ""
            bar = " " * (BAR - (length if left else 0)) + left + "|" + right + " " * (BAR - (length if right else 0))
            line = (f"  {name:<{width}} {bar} {_number(word.gradient_x_input):>8} {_number(word.occlusion):>9} "
                    f"{_number(word.occlusion_first_order):>9} {_number(word.gradient_norm, sign=False):>7}"
                    + "".join(f" {_number(f.gradient_x_input):>8}" for f in word.features))
            out.write((paint("dim", line) if word.occlusion is None else line) + "\n")
    out.write("\ncolumns: g.x = gradient . input (the bar); occlusion = the change of log p when the word is "
              "replaced by the unknown word; 1st order = its estimate g . (x - x_unk); |g| = the gradient's norm"
              + ("; then g . f for each feature" if features else "") + ".\n")


def _number(value: float | None, sign: bool = True) -> str:
    """Three decimals, or two significant digits for what three decimals would show as zero."""
    if value is None:
        return ""
    plus = "+" if sign else ""
    return f"{value:{plus}.3f}" if value == 0 or abs(value) >= 0.0005 else f"{value:{plus}.1e}"


def _draw(tagger: Tagger, text: str, path: Path, explanations: list[Explanation]) -> None:
    from window_ner.autodiff.graph import GraphvizError, render
    from window_ner.files import open_atomic
    from window_ner.ner.inference.explain import window_graph

    dot = window_graph(tagger, text, explanations[0] if explanations else None)
    if path.suffix == ".dot":
        with open_atomic(path, "w", encoding="utf-8") as handle:
            handle.write(dot)
    else:
        try:
            render(dot, path)
        except (GraphvizError, ValueError) as error:
            raise InputError(f"--graph {path}: {error}") from None
    print(f"window-ner: wrote the graph of one window to {path}", file=sys.stderr)
