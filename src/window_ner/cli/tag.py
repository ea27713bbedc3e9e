"""``window-ner tag``: tag raw text (an argument, a file or stdin, line by line) or a pre-tokenised CoNLL file."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from window_ner.cli._common import Formatter
from window_ner.errors import InputError
from window_ner.files import bounded_lines
from window_ner.ner.data.conll import load_conll, write_conll
from window_ner.ner.data.tokenize import tokenize
from window_ner.ner.inference.tagger import Entity, Tagger

HELP = "tag raw text"
FORMATS = ("inline", "jsonl", "conll")
MAX_LINE = 16 << 20  # bytes in one line of text to tag (a line is tagged whole: its memory is ~100x its size)


def add_parser(commands: Any) -> None:
    tag = commands.add_parser(
        "tag", help=HELP, formatter_class=Formatter,
        description="Tag raw text given as an argument, read from a file, or streamed from stdin ('-') "
        "line by line; or a pre-tokenised CoNLL file.",
        epilog='examples:\n  window-ner tag --model runs/glove "Angela Merkel flew to Paris."\n'
        "  cat news.txt | window-ner tag --model runs/glove - --format jsonl\n"
        "  window-ner tag --model runs/glove --conll tokens.conll > tagged.conll",
    )
    tag.add_argument("--model", required=True, type=Path, help="model folder or .safetensors file")
    tag.add_argument("text", nargs="?", help="text to tag, or '-' to read stdin line by line")
    tag.add_argument("--input", type=Path, help="a UTF-8 text file to tag, each line as one text (as with '-')")
    tag.add_argument("--conll", type=Path, metavar="FILE",
                     help="a pre-tokenised CoNLL file (tokens in --token-column, no tags needed): written to "
                     "stdout with a predicted tag column added")
    tag.add_argument("--token-column", type=int, default=0, help="column of the tokens, with --conll")
    tag.add_argument("--format", choices=FORMATS, default="inline",
                     help="inline: [Paris LOC]; jsonl: one JSON object of entities per line; conll: token tag")
    tag.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    given = [args.text is not None, args.input is not None, args.conll is not None]
    if sum(given) > 1:
        raise InputError("give one input: TEXT, --input FILE or --conll FILE")
    if not any(given):
        raise InputError("nothing to tag: give TEXT, --input FILE, --conll FILE, or '-' to read stdin")
    tagger = Tagger.load(args.model)
    if args.conll is not None:
        sentences = load_conll(args.conll, token_column=args.token_column, tag_column=None)
        write_conll(sys.stdout, sentences, tagger.predict([s.tokens for s in sentences]))
        return 0
    for text in _texts(args):
        if args.format == "conll" and not text.strip():
            continue  # blank lines would only add empty sentences
        print(format_entities(tagger, text, args.format), flush=True)
    return 0


def _texts(args: argparse.Namespace) -> Iterator[str]:
    """The texts to tag: the argument, or each line of --input or stdin (UTF-8; a byte-order mark and
    Windows or old-Mac line ends are taken care of)."""
    if args.input is None and args.text != "-":
        try:
            args.text.encode("utf-8")
        except UnicodeEncodeError as error:  # bytes that are not UTF-8 reach argv as lone surrogates
            raise InputError(f"the TEXT argument is not UTF-8 text (a byte that is not UTF-8 at character "
                             f"{error.start + 1}); convert it to UTF-8, or pass it with --input FILE") from None
        yield args.text
        return
    if args.input is not None:
        with open(args.input, "rb") as stream:
            yield from utf8_lines(stream, str(args.input))
    elif hasattr(sys.stdin, "buffer"):
        yield from utf8_lines(sys.stdin.buffer, "stdin")
    else:  # stdin replaced by a text stream (in tests, or by an embedding program)
        yield from (line.rstrip("\r\n") for line in sys.stdin)


def utf8_lines(stream: Any, name: str) -> Iterator[str]:
    """Lines of a binary stream, decoded one by one so that an error names its line."""
    def too_long(number: int) -> InputError:
        return InputError(f"{name}:{number}: the line is longer than {MAX_LINE:,} bytes; split the text into "
                          "shorter lines (one paragraph or document each)")

    for number, raw in enumerate(bounded_lines(stream, MAX_LINE, too_long), 1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"{name}:{number}: not UTF-8 text ({error.reason} at byte {error.start + 1}); "
                             "convert it to UTF-8") from None
        yield from text.rstrip("\r\n").split("\r")  # a lone CR ends a line too (old Mac files)


# Characters a terminal obeys instead of showing: C0 controls but tab, DEL and C1 controls (ESC starts escape
# sequences that can rewrite the screen), and the bidirectional overrides that reorder what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``), so output cannot drive the
    terminal it is shown on."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def format_entities(tagger: Tagger, text: str, fmt: str) -> str:
    """One text's entities as inline brackets, a JSON line, or CoNLL token/tag lines; control characters
    are escaped (JSON escapes, or visible ``\\x1b`` in the other formats)."""
    if fmt == "conll":
        sentences = [[t.text for t in sentence.tokens] for sentence in tokenize(text)]
        return visible("\n\n".join("\n".join(f"{token} {tag}" for token, tag in zip(tokens, tags, strict=True))
                                   for tokens, tags in zip(sentences, tagger.predict(sentences), strict=True))) + "\n"
    entities: list[Entity] = tagger(text)  # type: ignore[assignment]
    if fmt == "jsonl":
        line = json.dumps({"text": text, "entities": [e.to_dict() for e in entities]}, ensure_ascii=False)
        return _CONTROL.sub(lambda m: f"\\u{ord(m[0]):04x}", line)  # json.dumps leaves DEL, C1 and bidi raw
    pieces, position = [], 0
    for entity in entities:
        pieces.append(text[position:entity.start])
        pieces.append(f"[{text[entity.start:entity.end]} {entity.label}]")
        position = entity.end
    pieces.append(text[position:])
    return visible("".join(pieces))
