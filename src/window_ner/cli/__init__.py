"""The window-ner command line: one module per command (its parser fragment and a thin handler over the
library), and the one error policy: bad input is one line and exit 2, a bug shows its traceback, exit 1."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import traceback
from collections.abc import Sequence

from window_ner import __version__
from window_ner.cli import demo, evaluate, explain, plot, serve, tag, train
from window_ner.cli._common import Formatter, Parser
from window_ner.errors import InputError
from window_ner.ner.inference.bulk import WorkerDied

__all__ = ["build_parser", "main", "COMMANDS"]

COMMANDS = (train, evaluate, tag, explain, plot, serve, demo)  # each: add_parser(commands) setting its handler

EXAMPLES = """\
examples:
  window-ner demo
  window-ner train --train train.txt --dev dev.txt --test test.txt --vectors glove.6B.50d.txt.gz --out runs/glove
  window-ner evaluate --model runs/glove --data test.txt --output predictions.conll
  window-ner tag --model runs/glove "Angela Merkel flew from Berlin to Paris on Tuesday."
  cat news.txt | window-ner tag --model runs/glove - --format jsonl
  window-ner tag --model runs/glove --conll tokens.conll > tagged.conll
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per job."""
    parser = Parser(
        prog="window-ner",
        description="Find named entities with the CS224N window classifier, trained by its own "
        "backpropagation engine on NumPy.",
        epilog=EXAMPLES,
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"window-ner {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 1 a bug, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        names = ", ".join(command.__name__.rsplit(".", 1)[-1] for command in COMMANDS)
        print(f"window-ner: error: no command given; choose one of {names} (see above)", file=sys.stderr)
        return 2
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a full disk behind the standard output shows here, not at exit
        return code
    except KeyboardInterrupt as interrupt:
        print(f"window-ner: {str(interrupt) or 'interrupted'}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): not an error
        _silence_stdout()
        return 0
    except (InputError, OSError) as error:  # the user's input, files or disk: one line
        if isinstance(error, OSError) and error.filename is None and error.errno in _WRITE_ERRORS:
            _silence_stdout()  # the standard output failed: do not fail again at exit
        print(f"window-ner: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except WorkerDied as error:  # killed from outside, or out of memory: not the input's fault, nor a bug
        print(f"window-ner: error: {error}", file=sys.stderr)
        return 1
    except MemoryError:
        print("window-ner: error: out of memory: the input or the model is too large for this machine (lower "
              "the sizes given as options, or tag smaller pieces of text)", file=sys.stderr)
        return 2
    except Exception:  # anything else is a bug in window-ner
        traceback.print_exc()
        print("window-ner: internal error: this is a bug in window-ner, not a problem with your input; please "
              "report it to the window-ner developers with the traceback above and the command you ran",
              file=sys.stderr)
        return 1


_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.filename}: {error.strerror}"
    elif isinstance(error, OSError) and error.errno in _WRITE_ERRORS:
        # every file window-ner writes is named (open_atomic): a nameless write error is the standard output's
        text = f"standard output: {error.strerror}"
    return " ".join(text.split())


def _silence_stdout() -> None:
    """Point the standard output at /dev/null, so that Python's flush at exit does not raise again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
