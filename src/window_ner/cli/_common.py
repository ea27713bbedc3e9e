"""What every command shares: number types for options, the help formatter, the parser class."""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Callable
from typing import Any

from window_ner.errors import InputError


def number(kind: type, low: float, high: float = math.inf, low_open: bool = False) -> Callable[[str], Any]:
    """An argparse type: a ``kind`` number from ``low`` (excluded if ``low_open``) up to ``high`` (excluded),
    else argparse names the option."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"not {text!r}") from None
        if not ((value > low if low_open else value >= low) and value < high):  # also catches nan
            if high == math.inf:
                span = f"> {low:g}" if low_open else f">= {low:g}"
            else:
                span = f"in {'(' if low_open else '['}{low:g}, {high:g})"
            raise argparse.ArgumentTypeError(f"must be {span}, not {text}")
        return value
    return parse


COUNT = number(int, 1)  # epochs, sizes
NON_NEGATIVE_INT = number(int, 0)
POSITIVE = number(float, 0, low_open=True)
NON_NEGATIVE = number(float, 0)
PROBABILITY = number(float, 0, 1)  # dropout: [0, 1)
FACTOR = number(float, 0, 1, low_open=True)  # learning-rate decay: (0, 1)


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (where it has one) and keeps the examples' line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        hidden = action.default is None or action.default is False or action.default is argparse.SUPPRESS
        if not hidden and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit code 2, like every other error
        # sub-command parsers' prog is "window-ner tag": keep every error line starting "window-ner: error:"
        self.exit(2, f"window-ner: error: {message} (see '{self.prog} --help')\n")


# Characters a terminal obeys instead of showing: C0 controls but tab, DEL and C1 controls (ESC starts escape
# sequences that can rewrite the screen), and the bidirectional overrides that reorder what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``), so output cannot drive the
    terminal it is shown on."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def json_line(value: Any) -> str:
    """``value`` as one line of JSON, with every control character escaped (as :func:`visible`)."""
    line = json.dumps(value, ensure_ascii=False)
    return _CONTROL.sub(lambda m: f"\\u{ord(m[0]):04x}", line)  # json.dumps leaves DEL, C1 and bidi raw


def utf8_argument(text: str, instead: str) -> str:
    """A TEXT argument, refused in one line when it is not UTF-8 (such bytes reach argv as lone surrogates);
    ``instead`` says how else to pass it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputError(f"the TEXT argument is not UTF-8 text (a byte that is not UTF-8 at character "
                         f"{error.start + 1}); convert it to UTF-8, or pass it {instead}") from None
    return text
