"""``window-ner tag``: tag raw text (an argument, a file or stdin), JSON records, or a pre-tokenised CoNLL
file; in chunks, in input order, in one process or several.

An interrupted run (Ctrl-C) leaves a complete prefix: the output holds the results of the first records,
never part of one, and the message says at which input line it stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any

from window_ner.cli._common import COUNT, Formatter, json_line, utf8_argument, visible
from window_ner.errors import InputError
from window_ner.ner.data.conll import Sentence, read_conll, write_conll
from window_ner.ner.data.tokenize import tokenize
from window_ner.ner.inference.bulk import map_chunks, usable_cores
from window_ner.ner.inference.records import BadRecord, Record, chunked, read_records, tag_records
from window_ner.ner.inference.tagger import Entity, Tagger, model_path

HELP = "tag raw text, JSON records or a CoNLL file"
FORMATS = ("inline", "jsonl", "conll")
INPUT_FORMATS = ("auto", "text", "jsonl")
CONLL_CHUNK = 2_000  # sentences of a CoNLL input tagged at once, at least (a document is not cut)...
MAX_CHUNK = 8 * CONLL_CHUNK  # ...unless it runs past this many
DASK_BLOCK = "2MiB"  # bytes of input per Dask partition: enough tasks for every worker, little memory each


def workers_count(text: str) -> int:
    """``--workers``: a number of processes, or ``auto`` for the usable cores."""
    return usable_cores() if text == "auto" else COUNT(text)


def add_parser(commands: Any) -> None:
    tag = commands.add_parser(
        "tag", help=HELP, formatter_class=Formatter,
        description="Tag raw text given as an argument, read from a file, or streamed from stdin ('-'), one "
        "text per line; JSON records, one object with a \"text\" field per line (other fields are kept); or a "
        "pre-tokenised CoNLL file. Input is read and tagged in chunks, so memory stays small whatever its size, "
        "and the output keeps the input's order. A progress bar shows on a terminal. Ctrl-C leaves the "
        "results of the records before the one it stopped at, complete.",
        epilog='examples:\n  window-ner tag --model runs/glove "Angela Merkel flew to Paris."\n'
        "  cat news.txt | window-ner tag --model runs/glove - --format jsonl\n"
        "  window-ner tag --model runs/glove --input docs.jsonl --output tagged.jsonl --workers auto\n"
        "  window-ner tag --model runs/glove --conll tokens.conll > tagged.conll",
    )
    tag.add_argument("--model", required=True, type=Path, help="model folder or .safetensors file")
    tag.add_argument("text", nargs="?", help="text to tag, or '-' to read stdin line by line")
    tag.add_argument("--input", type=Path, metavar="FILE",
                     help="a UTF-8 file to tag, one text or JSON record per line ('-': stdin)")
    tag.add_argument("--input-format", choices=INPUT_FORMATS, default="auto",
                     help="text: each line one text; jsonl: each line a JSON object with a \"text\" string; "
                     "auto: jsonl for a .jsonl or .ndjson file, else text")
    tag.add_argument("--conll", type=Path, metavar="FILE",
                     help="a pre-tokenised CoNLL file (tokens in --token-column, no tags needed): written with a "
                     "predicted tag column added")
    tag.add_argument("--token-column", type=int, default=0, help="column of the tokens, with --conll")
    tag.add_argument("--format", choices=FORMATS, default="inline",
                     help="inline: [Paris LOC]; jsonl: one JSON object per input line, with its entities "
                     "(character offsets, label, probability); conll: token tag")
    tag.add_argument("--output", type=Path, metavar="FILE",
                     help="write here instead of stdout (written as it goes: after Ctrl-C it holds a complete "
                     "prefix)")
    tag.add_argument("--workers", type=workers_count, default=1, metavar="N",
                     help="worker processes, each loading the model once ('auto': one per usable core)")
    tag.add_argument("--skip-bad", action="store_true",
                     help="skip a bad record (not UTF-8, not JSON, no \"text\") and count it, instead of stopping")
    tag.add_argument("--dask", metavar="ADDRESS",
                     help="tag on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:8786), with the model "
                     "sent to each worker once; --input must be readable by the workers and --output is a folder "
                     "of part-N.jsonl files; a bad record gets an \"error\" field instead of stopping the run "
                     '(needs pip install "window-ner[dask]")')
    tag.add_argument("--no-progress", action="store_true", help="no progress bar (there is none off a terminal)")
    tag.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    given = [args.text is not None, args.input is not None, args.conll is not None]
    if sum(given) > 1:
        raise InputError("give one input: TEXT, --input FILE or --conll FILE")
    if not any(given):
        raise InputError("nothing to tag: give TEXT, --input FILE, --conll FILE, or '-' to read stdin")
    source = args.conll or args.input
    if args.output is not None and source is not None and str(source) != "-" and _same_file(args.output, source):
        raise InputError(f"--output {args.output} is the input file: it would be overwritten; choose another")
    if args.output is not None and args.output.is_dir() and args.dask is None:  # --dask writes a folder
        raise IsADirectoryError(21, "is a folder; give a file name", str(args.output))
    model = model_path(args.model)
    if not model.exists():
        Tagger.load(model)  # says where to get a model
    if args.dask is not None:
        return _tag_on_dask(args, model)
    with _output(args.output) as out:
        if args.conll is not None:
            return _tag_conll(args, model, out)
        return _tag_records(args, model, out)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None or str(path) == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", newline="\n") as stream:
        yield stream


# ----------------------------------------------------------------------------- records (text and JSON lines)

def _tag_records(args: argparse.Namespace, model: Path, out: IO[str]) -> int:
    bad: list[BadRecord] = []
    with _input(args) as (stream, name, fmt):
        records = _good(read_records(stream, name, fmt) if stream is not None else iter([_argument(args.text)]),
                        bad, args.skip_bad)
        work = partial(format_chunk, fmt=args.format)
        progress = _Progress(stream, name, args.no_progress)
        _write_all(map_chunks(model, work, chunked(records), args.workers, _lines_of), out, progress, name)
    if bad and not args.skip_bad:
        raise InputError(f"{bad[0]}; the records before it were tagged (--skip-bad skips such records)")
    if bad:
        print(f"window-ner: skipped {len(bad):,} bad record{'s' if len(bad) > 1 else ''} (the first: {bad[0]})",
              file=sys.stderr)
    return 0


@contextlib.contextmanager
def _input(args: argparse.Namespace) -> Iterator[tuple[IO[bytes] | None, str, str]]:
    """The input stream (None for a TEXT argument), its name for messages, and its record format."""
    name = "stdin" if args.input is None or str(args.input) == "-" else str(args.input)
    fmt = _record_format(args)
    if args.input is None and args.text != "-":
        yield None, "TEXT", fmt
    elif name == "stdin":
        yield sys.stdin.buffer if hasattr(sys.stdin, "buffer") else io.BytesIO(sys.stdin.read().encode()), name, fmt
    else:
        with open(args.input, "rb") as stream:
            yield stream, name, fmt


def _record_format(args: argparse.Namespace) -> str:
    """--input-format, with auto read from the file name (.jsonl, .ndjson)."""
    if args.input_format != "auto":
        return args.input_format
    return "jsonl" if str(args.input or "").endswith((".jsonl", ".ndjson")) else "text"


def _argument(text: str) -> Record:
    return Record(1, utf8_argument(text, "with --input FILE"))


def _good(records: Iterator[Record | BadRecord], bad: list[BadRecord], skip: bool) -> Iterator[Record]:
    """The good records; a bad one is counted in ``bad`` and skipped, or (without ``skip``) ends the
    records there, so that everything before it is still tagged and written, and the caller reports it."""
    for record in records:
        if isinstance(record, BadRecord):
            bad.append(record)
            if not skip:
                return
        else:
            yield record


def _lines_of(chunk: list[Any]) -> str:
    first, last = chunk[0].line, chunk[-1].line
    return f"input line{'s' if last > first else ''} {first}" + (f"-{last}" if last > first else "")


def format_chunk(tagger: Tagger, chunk: list[Record], fmt: str) -> str:
    """The output text of a chunk of records (runs in the worker processes too)."""
    if fmt == "conll":
        return "".join(text + "\n" for text in _conll_texts(tagger, [r.text for r in chunk if r.text.strip()]))
    if fmt == "jsonl":
        return "".join(json_line(result) + "\n" for result in tag_records(tagger, chunk))
    entities = tagger.tag_texts([record.text for record in chunk])
    return "".join(_inline(record.text, found) + "\n" for record, found in zip(chunk, entities, strict=True))


# ----------------------------------------------------------------------------- Dask

def _tag_on_dask(args: argparse.Namespace, model: Path) -> int:
    if args.input is None or str(args.input) == "-" or args.output is None:
        raise InputError("--dask tags a file the workers can read: give --input FILE and --output FOLDER")
    if args.format == "conll":
        raise InputError("--dask writes inline or jsonl records; --format conll needs the tokens in one process")
    try:
        import dask.bag as db
        from distributed import Client

        from window_ner.dask import parse_line, ship_model, tag_bag, write_partitions
    except ImportError:
        raise InputError('--dask needs the dask extra: pip install "window-ner[dask]"') from None
    fmt = _record_format(args)
    args.output.mkdir(parents=True, exist_ok=True)
    with Client(args.dask, timeout="30s") as client:
        lines = db.read_text(str(args.input.resolve()), blocksize=DASK_BLOCK).map(str.rstrip, "\r\n")
        if fmt == "jsonl":
            lines = lines.filter(str.strip).map(parse_line)
        results = tag_bag(lines, ship_model(client, model))
        to_line = json_line if args.format == "jsonl" else _inline_result
        errors = write_partitions(results, args.output.resolve(), to_line)
    print(f"window-ner: wrote {args.output}/part-*.jsonl" + (f"; {errors:,} bad records are marked with an "
          "\"error\" field" if errors else ""), file=sys.stderr)
    return 0


def _inline_result(result: dict[str, Any]) -> str:
    if "error" in result:
        return json_line(result)
    return _inline(result["text"], [Entity(e["text"], e["label"], e["start"], e["end"], e["score"])
                                    for e in result["entities"]])


# ----------------------------------------------------------------------------- CoNLL

def _tag_conll(args: argparse.Namespace, model: Path, out: IO[str]) -> int:
    sentences = read_conll(args.conll, token_column=args.token_column, tag_column=None)
    chunks = _sentence_chunks(sentences)
    progress = _Progress(None, str(args.conll), args.no_progress)
    _write_all(map_chunks(model, conll_chunk, chunks, args.workers, _lines_of), out, progress, str(args.conll))
    return 0


def _sentence_chunks(sentences: Iterator[Sentence]) -> Iterator[list[Sentence]]:
    """Chunks of about CONLL_CHUNK sentences, cut between documents (the doc feature reads a document whole)
    unless one document runs past MAX_CHUNK sentences."""
    chunk: list[Sentence] = []
    for sentence in sentences:
        if chunk and (len(chunk) >= MAX_CHUNK or (len(chunk) >= CONLL_CHUNK and sentence.doc != chunk[-1].doc)):
            yield chunk
            chunk = []
        chunk.append(sentence)
    if chunk:
        yield chunk


def conll_chunk(tagger: Tagger, chunk: list[Sentence]) -> str:
    """CoNLL lines of a chunk of sentences with the predicted tags added (runs in the workers too)."""
    buffer = io.StringIO()
    write_conll(buffer, chunk, tagger.predict([s.tokens for s in chunk], [s.doc for s in chunk]))
    return buffer.getvalue()


# ----------------------------------------------------------------------------- writing, progress, Ctrl-C

class _Progress:
    """A bar on a terminal's stderr: bytes of the input read (with the rate), or records for a pipe."""

    def __init__(self, stream: IO[bytes] | None, name: str, off: bool):
        self.stream, self.bar, self.done = stream, None, 0
        if off or not sys.stderr.isatty() or (stream is None and name == "TEXT"):
            return
        from tqdm import tqdm

        total = None
        with contextlib.suppress(OSError, AttributeError, ValueError):
            if stream is not None and stream.seekable():
                total = os.fstat(stream.fileno()).st_size
        self.by_bytes = total is not None
        self.bar = tqdm(total=total, unit="B" if self.by_bytes else " records", unit_scale=self.by_bytes,
                        desc="tagging", file=sys.stderr, leave=False, dynamic_ncols=True)

    def advance(self, records: int) -> None:
        if self.bar is None:
            return
        if self.by_bytes:
            position = self.stream.tell()  # type: ignore[union-attr]
            self.bar.update(position - self.done)
            self.done = position
        else:
            self.bar.update(records)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _write_all(results: Iterator[tuple[list[Any], str]], out: IO[str], progress: _Progress, source: str) -> None:
    """Write each chunk's output as it comes; after Ctrl-C, leave a complete prefix and say where it stopped."""
    done, last_line = 0, 0
    offset = _tell(out)
    try:
        for chunk, text in results:
            out.write(text)
            out.flush()
            offset = _tell(out)
            done += len(chunk)
            last_line = chunk[-1].line
            progress.advance(len(chunk))
    except KeyboardInterrupt:
        getattr(results, "close", lambda: None)()  # stops the workers: running chunks end, queued ones go
        if offset is not None:
            with contextlib.suppress(OSError, ValueError):
                out.truncate(offset)  # a chunk cut short by Ctrl-C is taken back whole
        where = "the standard output" if out is sys.stdout else getattr(out, "name", "the output")
        held = f"the results of {source} up to line {last_line:,} ({done:,} records)" if done else "no results"
        raise KeyboardInterrupt(f"interrupted: {where} holds {held}; the rest was not tagged") from None
    finally:
        progress.close()


def _tell(out: IO[str]) -> int | None:
    """The output's position, where it can be truncated back to (a regular file), else None."""
    try:
        return out.tell() if out.seekable() and out is not sys.stdout else None
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- formats

def _conll_texts(tagger: Tagger, texts: list[str]) -> list[str]:
    """Each text's "token tag" lines, its sentences apart; every sentence of the texts scored in one batch."""
    per_text = [[sentence.words for sentence in tokenize(text)] for text in texts]
    documents = [doc for doc, sentences in enumerate(per_text) for _ in sentences]  # each text a document
    tags = iter(tagger.predict([sentence for sentences in per_text for sentence in sentences], documents))
    return [visible("\n\n".join("\n".join(f"{token} {tag}" for token, tag in zip(words, next(tags), strict=True))
                                for words in sentences)) + "\n" for sentences in per_text]


def _inline(text: str, entities: list[Entity]) -> str:
    pieces, position = [], 0
    for entity in entities:
        pieces.append(text[position:entity.start])
        pieces.append(f"[{text[entity.start:entity.end]} {entity.label}]")
        position = entity.end
    pieces.append(text[position:])
    return visible("".join(pieces))


def format_entities(tagger: Tagger, text: str, fmt: str) -> str:
    """One text's entities as inline brackets, a JSON line, or CoNLL token/tag lines; control characters
    are escaped (JSON escapes, or visible ``\\x1b`` in the other formats)."""
    if fmt == "conll":
        return _conll_texts(tagger, [text])[0]
    entities: list[Entity] = tagger(text)  # type: ignore[assignment]
    if fmt == "jsonl":
        return json_line({"text": text, "entities": [e.to_dict() for e in entities]})
    return _inline(text, entities)
