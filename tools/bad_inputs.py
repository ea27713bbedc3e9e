"""Run a table of bad or adversarial inputs against the installed window-ner command line, and keep
docs/reliability.md (what each one does: exit code and first line of stderr) true.

    python tools/bad_inputs.py --write            run every case, then rewrite docs/reliability.md
    python tools/bad_inputs.py --check            run every case; exit 1 listing each case whose exit code or
                                                  recorded line differs from docs/reliability.md
    python tools/bad_inputs.py --show [--full]    run every case and print what each did (--full: all of its
                                                  output), without reading or writing the document
    -k TEXT (with --check or --show)              only the cases whose description holds TEXT

Every input is built in a fresh temporary folder from the corpus bundled with the package, small generated
vectors files, and models the script first trains there with the CLI (1 epoch, hidden 8); nothing is read
from ../shared. Each case runs the real ``window-ner`` console script in that folder (so paths in commands
and messages are relative), under a 1 GiB address-space limit, two cases at a time. A case's result is only
ever what running it gave: nothing in the table is written by hand. Linux only (the cases use /dev/zero,
/dev/full, /proc, FIFOs and resource limits).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import pickle
import random
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
WORKERS = 2
MEMORY_LIMIT = 1 << 30  # bytes of address space per case: huge sizes and /dev/zero then fail fast, never swap
TIMEOUT = 30.0  # seconds per case
SHOWN = 200  # characters of a recorded line kept in the table
ENV = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "COLUMNS": "100", "OPENBLAS_NUM_THREADS": "1",
       "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
TINY = {"--epochs": "1", "--hidden": "8", "--word-dim": "8"}  # a training run in well under a second
DATA = {"--train": "train.conll", "--dev": "dev.conll"}
# (pattern, replacement, what it is): what changes from run to run; the document lists each.
VOLATILE = (
    (r"\d[\d,]*(\.\d+)? tokens/s", "<n> tokens/s", "training speed (`<n> tokens/s`)"),
    (r"\b(process|pid) \d+", r"\1 <pid>", "process ids (`process <pid>`)"),
    (r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d", "<time>", "clock times (`<time>`)"),
    (r"(<repo>/\S+\.py):\d+", r"\1:<line>", "line numbers in window-ner's source (`<repo>/...py:<line>`)"),
    (r"only [\d.]+ [kMGT]?B is available", "only <size> is available",
     "memory left under the cases' limit (`only <size> is available`)"),
    (r"the loss reached \S+ at", "the loss reached <loss> at",
     "a diverged loss, huge or nan as the BLAS sums it (`the loss reached <loss>`)"),
)
SETUP = (  # trained once, before the cases, with the real CLI; the cases read them
    ("model", {**DATA, **TINY, "--out": "model"}),
    ("diverged", {**DATA, **TINY, "--epochs": "2", "--lr": "1e30", "--out": "diverged"}),
)


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments after ``window-ner`` and how to run them.

    ``stream``/``match`` choose the recorded line: the first line of ``stream`` that matches ``match``
    (stderr's first line by default; stdout where the evidence is the output, as with text to tag).
    """

    area: str
    what: str
    argv: tuple[str | bytes, ...]
    item: str = ""  # issue 18's item number
    stdin: str | None = None  # file fed to stdin (else stdin is empty)
    stdout: str | None = None  # file stdout is written to (else captured)
    stream: str = "stderr"
    match: str = ""
    fifo: str | None = None  # (path) made a FIFO that a writer feeds with ``fifo_source``
    fifo_source: str = ""
    background: tuple[str, ...] = ()  # started first; the case runs once ``wait_for`` exists
    wait_for: str = ""


@dataclass(frozen=True)
class Outcome:
    exit: str
    label: str  # what the line is, when not stderr's first line
    line: str
    seconds: float
    stdout: str
    stderr: str


class Table:
    """The cases, grouped by area in the order they are added."""

    def __init__(self) -> None:
        self.cases: list[Case] = []
        self.area = ""
        self.outs: set[str] = set()

    def add(self, what: str, argv: Sequence[str | bytes], item: str = "", **options: object) -> None:
        """Add a case; an ``OUT`` argument becomes a folder of its own, ``runs/<the description as a slug>``."""
        slug = "runs/" + re.sub(r"[^a-z0-9]+", "-", what.lower())[:32].strip("-")
        argv = tuple(slug if a == OUT else a for a in argv)
        assert all(case.what != what for case in self.cases), f"two cases are described as {what!r}"
        out = argv[argv.index("--out") + 1] if "--out" in argv else ""
        if out.startswith("runs/"):  # cases run at once: two writing into one folder would meet there
            assert out not in self.outs, f"two cases write into {out}"
            self.outs.add(out)
        self.cases.append(Case(self.area, what, argv, item, **options))  # type: ignore[arg-type]


OUT = "<own folder>"


def train(*flags: str, out: str = OUT, progress: bool = False, **options: str | None) -> list[str]:
    """``train`` on the bundled corpus with the tiny settings, ``--name value`` options (``word_dim`` is
    ``--word-dim``; None drops an option) and ``flags`` after them, into ``out`` (by default a folder of the
    case's own)."""
    chosen: dict[str, str | None] = {**DATA, **TINY}
    chosen.update({"--" + name.replace("_", "-"): value for name, value in options.items()})
    argv = ["train"]
    for name, value in chosen.items():
        if value is not None:
            argv += [name, value]
    return argv + ([] if progress else ["--no-progress"]) + list(flags) + ["--out", out]


def tag(*argv: str | bytes, model: str = "model") -> list[str | bytes]:
    return ["tag", "--model", model, *argv]


def evaluate(*argv: str, model: str = "model", data: str = "dev.conll") -> list[str]:
    return ["evaluate", "--model", model, "--data", data, *argv]


def build_cases() -> list[Case]:
    t = Table()

    t.area = "Training output folder (--out)"
    t.add("new folder whose name has a dot", train(out="runs/dot/glove.6B.50d"), "1")
    t.add("demo into a new folder whose name has a dot", ["demo", "--epochs", "1", "--no-progress",
                                                          "--out", "runs/dot/demo.v1"], "1")
    t.add("unwritable --out (/proc/x)", train(out="/proc/x"), "13")
    t.add("demo with unwritable --out (/proc/x)", ["demo", "--epochs", "1", "--no-progress", "--out", "/proc/x"],
          "13")
    t.add("--out is an existing regular file", train(out="train.conll"))
    t.add("--out is /dev/null", train(out="/dev/null"))
    t.add("--out in folders that do not exist yet", train(out="runs/new/a/b/c"))
    t.add("two trainings into one --out at once (the second one's result)", train(out="runs/shared"), "10",
          background=tuple(train(out="runs/shared", epochs="1000", patience="0")),
          wait_for="runs/shared/metrics.jsonl")

    t.area = "Training options"
    t.add("--loss max-margin without --binary", train("--loss", "max-margin"))
    t.add("unknown option", train("--bogus"))
    t.add("no --train", train(train=None))
    t.add("--epochs not a number", train(epochs="two"))
    t.add("--epochs 0", train(epochs="0"))
    t.add("--epochs -1", train(epochs="-1"))
    t.add("--epochs as a float", train(epochs="1.5"))
    t.add("--hidden 0", train(hidden="0"))
    t.add("--hidden -5", train(hidden="-5"))
    t.add("--hidden 10000000", train(hidden="10000000"), "9")
    t.add("--window 100000", train(window="100000"), "9")
    t.add("--window -1", train(window="-1"))
    t.add("--word-dim 100000000", train(word_dim="100000000"), "9")
    t.add("--word-dim 0", train(word_dim="0"))
    t.add("--seed -1", train(seed="-1"), "8")
    t.add("--seed 2**70", train(seed=str(2 ** 70)))
    t.add("--lr 1e30 --epochs 2 (divergence)", train(epochs="2", lr="1e30"), "2")
    t.add("--lr 0", train(lr="0"))
    t.add("--lr nan", train(lr="nan"))
    t.add("--lr inf", train(lr="inf"))
    t.add("--dropout-input 1", train(dropout_input="1"))
    t.add("--dropout-hidden -0.1", train(dropout_hidden="-0.1"))
    t.add("--batch-size 0", train(batch_size="0"))
    t.add("--clip -1", train(clip="-1"))
    t.add("--lr-decay 1", train(lr_decay="1"))
    t.add("--patience -1", train(patience="-1"))
    t.add("--features bogus", train(features="bogus"))
    t.add("--features caps,caps", train(features="caps,caps"))
    t.add("--binary FOO (a type the data does not have)", train(binary="FOO"))
    t.add("--head binary without --binary", train(head="binary"))
    t.add("--tag-column 5 (files have 2 columns)", train(tag_column="5"))
    t.add("--token-column 1 (the tag column)", train(token_column="1"))
    t.add("--no-progress: the first per-epoch line", train(), "3", match=r"^epoch")
    t.add("without --no-progress: the first per-epoch line", train(progress=True), "3",
          match=r"^epoch")
    t.add("demo --epochs 0", ["demo", "--epochs", "0"])
    t.add("demo --seed -1", ["demo", "--seed", "-1"])

    t.area = "CoNLL files"
    t.add("missing --train file", train(train="conll/none.conll"))
    t.add("a folder as --train", train(train="conll/a-folder"))
    t.add("empty --train file", train(train="conll/empty.conll"))
    t.add("--train of blank lines only", train(train="conll/blank.conll"))
    t.add("--train of one -DOCSTART- line", train(train="conll/docstart.conll"))
    t.add("binary file as --train", train(train="conll/binary.conll"))
    t.add("Latin-1 bytes in --train", train(train="conll/latin1.conll"))
    t.add("UTF-16 --train", train(train="conll/utf16.conll"))
    t.add("CoNLL with Windows line ends (CRLF)", train(train="conll/crlf.conll"))
    t.add("tab-separated columns", train(train="conll/tabs.conll"))
    t.add("tokens without a tag column", train(train="conll/no-tags.conll"))
    t.add("one line with an extra column", train(train="conll/ragged.conll"))
    t.add("first token line has 3 columns, the rest 2", train(train="conll/first-line-3-columns.conll"), "7")
    t.add("NUL byte inside a token", train(train="conll/nul-token.conll"))
    t.add("a 1,000,000-character token", train(train="conll/long-token.conll"))
    t.add("tag 'B-' (no type)", train(train="conll/tag-b-dash.conll"))
    t.add("tag 'LOC' (no prefix)", train(train="conll/tag-bare.conll"))
    t.add("tag 'b-loc' (lower case)", train(train="conll/tag-lower.conll"))
    t.add("one S-LOC in an IOB2 --train", train(train="conll/mixed.conll"), "4")
    t.add("IOB1 --dev (reference for the next case)", train(dev="conll/dev-iob1.conll"), "4")
    t.add("one E-ORG in an IOB1 --dev", train(dev="conll/dev-iob1-e-org.conll"), "4")
    t.add("an I-FOO tag in --train", train(train="conll/i-foo.conll"), "17")
    t.add("an I-ORG-X tag in --train", train(train="conll/i-org-x.conll"), "17")
    t.add("a tag holding NUL (I-OR\\0G) in --train", train(train="conll/nul-tag.conll"), "17")
    t.add("--dev has a type --train lacks (B-EVENT)", train(dev="conll/dev-new-type.conll"))
    t.add("--train without a single entity", train(train="conll/all-o.conll"))
    t.add("--train of one token", train(train="conll/one-token.conll"))
    t.add("a FIFO as --train", train(train="conll/pipe"), fifo="conll/pipe", fifo_source="train.conll")
    t.add("missing --test file (found before training?)", train(test="conll/none.conll"))
    t.add("missing --dev file", train(dev="conll/none.conll"))

    t.area = "Vectors files (--vectors)"
    t.add("well-formed 8-d GloVe text (reference for the next case)", train(vectors="vectors/good.txt"),
          match=r"^epoch")
    t.add("starts with a UTF-8 BOM", train(vectors="vectors/bom.txt"), "5", match=r"^epoch")
    t.add("missing vectors file", train(vectors="vectors/none.txt"))
    t.add("a folder as --vectors", train(vectors="vectors/a-folder"))
    t.add("empty vectors file", train(vectors="vectors/empty.txt"))
    t.add("vectors of blank lines only", train(vectors="vectors/blank.txt"))
    t.add("a row with 7 values instead of 8", train(vectors="vectors/ragged.txt"))
    t.add("a non-numeric value", train(vectors="vectors/non-numeric.txt"))
    t.add("a row of NaN", train(vectors="vectors/nan.txt"))
    t.add("a row of inf", train(vectors="vectors/inf.txt"))
    t.add("a value of 1e39 (beyond float32)", train(vectors="vectors/overflow.txt"))
    t.add("word2vec header says 10 dimensions, rows have 8", train(vectors="vectors/header-dim.txt"))
    t.add("word2vec header says 900 rows, file has 500", train(vectors="vectors/header-count.txt"))
    t.add("word2vec header claims 10^9 dimensions", train(vectors="vectors/header-huge.txt"))
    t.add("word2vec header only", train(vectors="vectors/header-only.txt"))
    t.add("words without numbers", train(vectors="vectors/words-only.txt"))
    t.add("a word twice", train(vectors="vectors/duplicate.txt"))
    t.add("no word in common with the data", train(vectors="vectors/disjoint.txt"))
    t.add("a Latin-1 word", train(vectors="vectors/latin1.txt"))
    t.add("vectors with Windows line ends (CRLF)", train(vectors="vectors/crlf.txt"))
    t.add("truncated gzip", train(vectors="vectors/truncated.txt.gz"))
    t.add("truncated word2vec binary", train(vectors="vectors/truncated.bin"))
    t.add("GloVe zip (one .txt inside)", train(vectors="vectors/glove.6B.zip"), "18")
    t.add("zip of two .txt files (8d and 16d, as glove.6B.zip holds four)",
          train(vectors="vectors/glove.2files.zip"), "18")
    t.add("a zip member named as ZIP/MEMBER (the 16d one)",
          train(vectors="vectors/glove.2files.zip/glove.6B.16d.txt"), "18")
    t.add("a zip member that is not in the zip", train(vectors="vectors/glove.2files.zip/glove.6B.50d.txt"), "18")
    t.add("/dev/zero", train(vectors="/dev/zero"), "9")

    t.area = "Model files (--model)"
    t.add("missing model folder", tag("Paris", model="no-such-model"))
    t.add("missing model folder (evaluate)", evaluate(model="no-such-model"))
    t.add("a folder without model.safetensors", tag("Paris", model="models/empty-folder"))
    t.add("model.safetensors is a folder", tag("Paris", model="models/folder-inside"))
    t.add("zero-byte file", tag("Paris", model="models/empty.safetensors"))
    t.add("truncated to half", tag("Paris", model="models/truncated.safetensors"))
    t.add("header length equal to the file size", tag("Paris", model="models/header-is-size.safetensors"), "14")
    t.add("header length 2**63", tag("Paris", model="models/header-huge.safetensors"))
    t.add("a pickle file", tag("Paris", model="models/model.pkl"))
    t.add("a JSON file", tag("Paris", model="models/model.json"))
    t.add("a zip (.npz) file", tag("Paris", model="models/model.npz"))
    t.add("a text file", tag("Paris", model="models/notes.safetensors"))
    t.add("a CoNLL file", tag("Paris", model="train.conll"))
    t.add("a good model under the name model.pt", tag("Paris", model="models/model.pt"))
    t.add("format_version 3 (newer), checksums recomputed", tag("Paris", model="models/newer.safetensors"))
    t.add("no window-ner metadata", tag("Paris", model="models/no-metadata.safetensors"))
    t.add("metadata not valid JSON, checksums recomputed", tag("Paris", model="models/bad-json.safetensors"))
    t.add("no checksums (as files written before them)", tag("Paris", model="models/no-checksums.safetensors"),
          "16", stream="stdout")
    t.add("checksums entry not valid JSON", tag("Paris", model="models/bad-checksums.safetensors"), "16")
    t.add("a tensor's header entry removed (its bytes left: a gap)", tag("Paris", model="models/gap.safetensors"))
    t.add("a tensor removed with its bytes, checksums recomputed",
          tag("Paris", model="models/missing-tensor.safetensors"))
    t.add("a NaN weight, checksums recomputed", tag("Paris", model="models/nan.safetensors"))
    t.add("tag list one short, edited by hand (checksums as they were)",
          tag("Paris", model="models/tags-short-edited.safetensors"), "15")
    t.add("tag list one short, checksums recomputed", tag("Paris", model="models/tags-short.safetensors"), "15")
    t.add("tag list one short, checksums recomputed (evaluate)", evaluate(model="models/tags-short.safetensors"),
          "15")
    t.add("two tags swapped, checksums recomputed", tag("Paris", model="models/tags-swapped.safetensors"), "15")
    t.add("one flipped byte in the weights", tag("Paris", model="models/flipped-weight.safetensors"), "16")
    t.add("one flipped byte in the vocabulary", tag("Paris", model="models/flipped-vocab.safetensors"), "16")
    t.add("model saved by a --lr 1e30 run", tag("Paris is in France.", model="diverged"), "2")

    t.area = "Evaluate"
    t.add("--output is the --data file", evaluate("--output", "eval/same.conll", data="eval/same.conll"), "11")
    t.add("--output is the --data file spelled ./", evaluate("--output", "./eval/same2.conll",
                                                             data="eval/same2.conll"), "11")
    t.add("--output in a missing folder", evaluate("--output", "no-such-folder/out.conll"))
    t.add("--output is a folder", evaluate("--output", "eval"))
    t.add("--output /dev/full (no space left)", evaluate("--output", "/dev/full"), "13")
    t.add("missing --data", evaluate(data="conll/none.conll"))
    t.add("--data without tags", evaluate(data="conll/no-tags.conll"))
    t.add("--data empty", evaluate(data="conll/empty.conll"))
    t.add("--data binary", evaluate(data="conll/binary.conll"))
    t.add("--data with a type the model lacks", evaluate(data="conll/dev-new-type.conll"))
    t.add("--data IOB1 (reference for the next case)", evaluate(data="conll/dev-iob1.conll"), "4", stream="stdout",
          match="^accuracy")
    t.add("--data IOB1 with one E-ORG", evaluate(data="conll/dev-iob1-e-org.conll"), "4", stream="stdout",
          match="^accuracy")
    t.add("--tag-column 7", evaluate("--tag-column", "7"))

    t.area = "Tag: text, files and stdin"
    t.add("ESC control characters, inline", tag("Paris \x1b[31mred\x1b[0m Berlin \x1b]0;title\x07"), "17",
          stream="stdout")
    t.add("decomposed Unicode (combining accents)", tag("Zoe\u0301 Saldan\u0303a in Sa\u0303o Paulo"), "6",
          stream="stdout")
    t.add("zero-width joiner inside a word", tag("Angela Merkel flew to Ber\u200dlin."), "6", stream="stdout")
    t.add("empty text argument", tag(""), stream="stdout")
    t.add("whitespace-only text argument", tag("  \t "), stream="stdout")
    t.add("a 100,000-character token", tag("Paris " + "a" * 100_000), stream="stdout")
    t.add("invalid UTF-8 bytes in the text argument", tag(b"Paris \xff\xfe Berlin"), stream="stdout")
    t.add("no text and no --input", tag())
    t.add("text and --input both", tag("Paris", "--input", "text/empty.txt"))
    t.add("invalid UTF-8 on stdin", tag("-"), stdin="text/invalid-utf8.txt")
    t.add("NUL byte on stdin", tag("-"), stdin="text/nul.txt", stream="stdout")
    t.add("UTF-16 on stdin", tag("-"), stdin="text/utf16.txt")
    t.add("empty stdin", tag("-"), stdin="text/empty.txt", stream="stdout")
    t.add("a 2,000,000-character line on stdin", tag("-"), stdin="text/long-line.txt", stream="stdout")
    t.add("missing --input", tag("--input", "text/none.txt"))
    t.add("a folder as --input", tag("--input", "text"))
    t.add("invalid UTF-8 in --input", tag("--input", "text/invalid-utf8.txt"))
    t.add("/dev/zero as --input", tag("--input", "/dev/zero"), "9")
    t.add("stdout is /dev/full", tag("Paris"), "13", stdout="/dev/full")
    t.add("--conll binary file", tag("--conll", "conll/binary.conll"))
    t.add("--conll empty file", tag("--conll", "conll/empty.conll"), stream="stdout")
    t.add("--conll --token-column 7", tag("--conll", "dev.conll", "--token-column", "7"))
    t.add("--format bogus", tag("Paris", "--format", "bogus"))

    t.area = "Explain"
    t.add("explain empty text", ["explain", "--model", "model", "   "])
    t.add("explain invalid UTF-8 on stdin", ["explain", "--model", "model", "-"], stdin="text/invalid-utf8.txt")
    t.add("explain --span 5:2", ["explain", "--model", "model", "--span", "5:2", "Paris is big"])
    t.add("explain --span inside a token", ["explain", "--model", "model", "--span", "1:3", "Paris is big"])
    t.add("explain --span with an unknown label", ["explain", "--model", "model", "--span", "0:5:CITY",
                                                    "Paris is big"])

    t.area = "Command line"
    t.add("no command", [])
    t.add("unknown command", ["frobnicate"])
    t.add("unknown option before the command", ["--bogus", "tag"])
    return t.cases


# ----------------------------------------------------------------------------------------------------------
# Inputs.

def _token_lines(text: str) -> list[int]:
    lines = text.split("\n")
    return [i for i, line in enumerate(lines) if line.strip() and not line.startswith("-DOCSTART-")]


def _retag(text: str, index: int, tag_: str) -> str:
    """``text`` with the tag of its ``index``-th token line replaced."""
    lines = text.split("\n")
    number = _token_lines(text)[index]
    lines[number] = lines[number].rsplit(" ", 1)[0] + " " + tag_
    return "\n".join(lines)


def _first_tagged(text: str, tag_: str) -> int:
    """Index (among token lines) of the first token tagged ``tag_``."""
    lines = text.split("\n")
    return next(i for i, n in enumerate(_token_lines(text)) if lines[n].endswith(" " + tag_))


def _iob1(text: str) -> str:
    """IOB2 text as IOB1: B- only where an entity follows one of the same type."""
    out, previous = [], None
    for line in text.split("\n"):
        if not line.strip() or line.startswith("-DOCSTART-"):
            out.append(line)
            previous = None
            continue
        token, tag_ = line.rsplit(" ", 1)
        kind = tag_[2:] if tag_ != "O" else None
        if tag_.startswith("B-") and previous != kind:
            tag_ = "I-" + kind
        out.append(f"{token} {tag_}")
        previous = kind
    return "\n".join(out)


def _vectors(words: Sequence[str], dim: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [word + " " + " ".join(f"{rng.gauss(0, 0.5):.4f}" for _ in range(dim)) for word in words]


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def write_inputs(work: Path) -> None:
    """The data files the cases read (models come later, from the setup trainings)."""
    from window_ner.ner.experiment import sample_corpus

    train_text, dev_text = (sample_corpus(split).read_text(encoding="utf-8") for split in ("train", "dev"))
    words = sorted({line.split()[0].lower() for line in train_text.split("\n") if line.strip()})[:500]
    good = _vectors(words, 8, seed=0)
    good_text = "\n".join(good) + "\n"
    first_o = _first_tagged(train_text, "O")
    binary_vectors = b"500 8\n" + b"".join(w.encode() + b" " + struct.pack("<8f", *[0.25] * 8) + b"\n"
                                           for w in words)
    files: dict[str, str | bytes] = {
        "train.conll": train_text, "dev.conll": dev_text,
        "conll/empty.conll": b"",
        "conll/blank.conll": "\n\n\n",
        "conll/docstart.conll": "-DOCSTART- O\n",
        "conll/binary.conll": bytes(range(256)) * 16,
        "conll/latin1.conll": train_text.encode().replace(b"Bergen B-LOC", b"Z\xfcrich B-LOC", 1),
        "conll/utf16.conll": train_text.encode("utf-16"),
        "conll/crlf.conll": train_text.replace("\n", "\r\n"),
        "conll/tabs.conll": train_text.replace(" ", "\t"),
        "conll/no-tags.conll": "\n".join(line.split(" ")[0] for line in train_text.split("\n")),
        "conll/ragged.conll": _retag(train_text, 100, "O X"),
        "conll/first-line-3-columns.conll": train_text.replace("Storm O", "Storm NN O", 1),
        "conll/nul-token.conll": train_text.replace("Bergen B-LOC", "Ber\0gen B-LOC", 1),
        "conll/long-token.conll": train_text.replace("Bergen B-LOC", "a" * 1_000_000 + " B-LOC", 1),
        "conll/tag-b-dash.conll": _retag(train_text, first_o, "B-"),
        "conll/tag-bare.conll": _retag(train_text, first_o, "LOC"),
        "conll/tag-lower.conll": train_text.replace("Bergen B-LOC", "Bergen b-loc", 1),
        "conll/mixed.conll": _retag(train_text, _first_tagged(train_text, "B-LOC"), "S-LOC"),
        "conll/dev-iob1.conll": _iob1(dev_text),
        "conll/dev-iob1-e-org.conll": _retag(_iob1(dev_text), _first_tagged(_iob1(dev_text), "I-ORG") + 1, "E-ORG"),
        "conll/i-foo.conll": _retag(train_text, first_o, "I-FOO"),
        "conll/i-org-x.conll": _retag(train_text, first_o, "I-ORG-X"),
        "conll/nul-tag.conll": _retag(train_text, first_o, "I-OR\0G"),
        "conll/dev-new-type.conll": _retag(dev_text, _first_tagged(dev_text, "O"), "B-EVENT"),
        "conll/all-o.conll": re.sub(r" [BI]-\w+$", " O", train_text, flags=re.M),
        "conll/one-token.conll": "Paris B-LOC\n",
        "vectors/good.txt": good_text,
        "vectors/bom.txt": "\ufeff" + good_text,
        "vectors/empty.txt": b"",
        "vectors/blank.txt": "\n\n",
        "vectors/ragged.txt": "\n".join(good[:10] + [good[10].rsplit(" ", 1)[0]] + good[11:]) + "\n",
        "vectors/non-numeric.txt": "\n".join(good[:10] + [words[10] + " abc" + " 0.1" * 7] + good[11:]) + "\n",
        "vectors/nan.txt": "\n".join(good[:10] + [words[10] + " nan" * 8] + good[11:]) + "\n",
        "vectors/inf.txt": "\n".join(good[:10] + [words[10] + " inf" * 8] + good[11:]) + "\n",
        "vectors/overflow.txt": "\n".join(good[:10] + [words[10] + " 1e39" + " 0.1" * 7] + good[11:]) + "\n",
        "vectors/header-dim.txt": "500 10\n" + good_text,
        "vectors/header-count.txt": "900 8\n" + good_text,
        "vectors/header-huge.txt": "500 1000000000\n" + good_text,
        "vectors/header-only.txt": "500 8\n",
        "vectors/words-only.txt": "\n".join(words) + "\n",
        "vectors/duplicate.txt": good_text + _vectors(words[:1], 8, seed=1)[0] + "\n",
        "vectors/disjoint.txt": "\n".join(_vectors([f"zzq{i}" for i in range(500)], 8, seed=0)) + "\n",
        "vectors/latin1.txt": good_text.encode() + _vectors(["z\xfcrich"], 8, seed=2)[0].encode("latin-1") + b"\n",
        "vectors/crlf.txt": good_text.replace("\n", "\r\n"),
        "vectors/truncated.txt.gz": gzip.compress(good_text.encode(), mtime=0)[:2000],
        "vectors/truncated.bin": binary_vectors[:len(binary_vectors) // 2],
        "vectors/glove.6B.zip": _zip({"glove.6B.8d.txt": good_text}),
        "vectors/glove.2files.zip": _zip({"glove.6B.8d.txt": good_text,
                                          "glove.6B.16d.txt": "\n".join(_vectors(words, 16, seed=3)) + "\n"}),
        "text/invalid-utf8.txt": b"Paris \xff\xfe Berlin\n",
        "text/nul.txt": b"Paris\0Berlin and Rome\n",
        "text/utf16.txt": "Angela Merkel flew to Paris.\n".encode("utf-16"),
        "text/empty.txt": b"",
        "text/long-line.txt": "a" * 2_000_000 + "\n",
        "eval/same.conll": dev_text,
        "eval/same2.conll": dev_text,
    }
    for name, content in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    for folder in ("conll/a-folder", "vectors/a-folder", "models/empty-folder",
                   "models/folder-inside/model.safetensors"):
        (work / folder).mkdir(parents=True)


def _split_safetensors(data: bytes) -> tuple[dict, bytes]:
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + size]), data[8 + size:]


def _join_safetensors(header: dict, payload: bytes) -> bytes:
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # safetensors pads its header to 8 bytes
    return len(encoded).to_bytes(8, "little") + encoded + payload


def _resign(header: dict, payload: bytes) -> None:
    """Recompute the checksums a model file records (SHA-256 of each tensor's bytes and of the metadata text),
    as a writer would: the file then holds only the change made on purpose."""
    entries = header["__metadata__"]
    if "checksums" not in entries:
        return
    sums = json.loads(entries["checksums"])
    for name in sums:
        if name == "__metadata__":
            sums[name] = hashlib.sha256(entries["window_ner"].encode()).hexdigest()
        elif name in header:
            begin, end = header[name]["data_offsets"]
            sums[name] = hashlib.sha256(payload[begin:end]).hexdigest()
    entries["checksums"] = json.dumps(sums, sort_keys=True)


def _rewritten(data: bytes, *, metadata: Callable[[dict], None] | None = None, entries: dict | None = None,
               drop: Sequence[str] = (), payload: bytes | None = None, resign: bool = False) -> bytes:
    """The model file ``data`` with its window-ner metadata changed in place by ``metadata``, header metadata
    ``entries`` set, tensors or metadata entries in ``drop`` removed, or another ``payload``; its checksums
    recomputed if ``resign``, else left as they were (as by someone editing the file)."""
    header, old_payload = _split_safetensors(data)
    payload = old_payload if payload is None else payload
    header["__metadata__"] = {**header["__metadata__"], **(entries or {})}
    if metadata is not None:
        parsed = json.loads(header["__metadata__"]["window_ner"])
        metadata(parsed)
        header["__metadata__"]["window_ner"] = json.dumps(parsed)
    header = {name: value for name, value in header.items() if name not in drop}
    header["__metadata__"] = {name: value for name, value in header["__metadata__"].items() if name not in drop}
    if resign:
        _resign(header, payload)
    return _join_safetensors(header, payload)


def _without_tensor(data: bytes, name: str) -> bytes:
    """The model file without tensor ``name``: its bytes cut out, the others' offsets moved, checksums recomputed."""
    header, payload = _split_safetensors(data)
    kept, parts, offset = {"__metadata__": header["__metadata__"]}, [], 0
    for other, info in sorted(((k, v) for k, v in header.items() if k not in ("__metadata__", name)),
                              key=lambda item: item[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        kept[other] = {**info, "data_offsets": [offset, offset + end - begin]}
        parts.append(payload[begin:end])
        offset += end - begin
    _resign(kept, b"".join(parts))
    return _join_safetensors(kept, b"".join(parts))


def _flip(data: bytes, offset: int, mask: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1:]


def write_models(work: Path) -> None:
    """Broken copies of the model the setup trained (models/...), edited as bytes: no window-ner code."""
    data = (work / "model" / "model.safetensors").read_bytes()
    header, payload = _split_safetensors(data)
    words_at = header["words.weight"]["data_offsets"][0] + 40  # a float in the middle of the word vectors
    tags = json.loads(header["__metadata__"]["window_ner"])["encoder"]["labels"]["tags"]

    def newer(metadata: dict) -> None:
        metadata["format_version"] = 3

    def one_tag_short(metadata: dict) -> None:
        metadata["encoder"]["labels"]["tags"] = tags[:-1]

    def two_tags_swapped(metadata: dict) -> None:
        metadata["encoder"]["labels"]["tags"] = [tags[0], tags[2], tags[1], *tags[3:]]

    nan_payload = payload[:words_at] + struct.pack("<f", float("nan")) + payload[words_at + 4:]
    models = {
        "empty.safetensors": b"",
        "truncated.safetensors": data[:len(data) // 2],
        "header-is-size.safetensors": len(data).to_bytes(8, "little") + data[8:],
        "header-huge.safetensors": (1 << 63).to_bytes(8, "little") + data[8:],
        "model.pkl": pickle.dumps({"words.weight": [0.0] * 8}, protocol=4),
        "model.json": json.dumps({"format": "window-ner model", "tensors": {}}).encode(),
        "model.npz": _zip({"words.weight.npy": "not really"}),
        "notes.safetensors": b"this is my model, it is great\n",
        "model.pt": data,
        "newer.safetensors": _rewritten(data, metadata=newer, resign=True),
        "no-metadata.safetensors": _rewritten(data, drop=["window_ner"]),
        "no-checksums.safetensors": _rewritten(data, drop=["checksums"]),
        "bad-checksums.safetensors": _rewritten(data, entries={"checksums": "{"}),
        "bad-json.safetensors": _rewritten(data, entries={"window_ner": "{not json"}, resign=True),
        "gap.safetensors": _rewritten(data, drop=["head.c"]),
        "missing-tensor.safetensors": _without_tensor(data, "head.c"),
        "nan.safetensors": _rewritten(data, payload=nan_payload, resign=True),
        "tags-short-edited.safetensors": _rewritten(data, metadata=one_tag_short),
        "tags-short.safetensors": _rewritten(data, metadata=one_tag_short, resign=True),
        "tags-swapped.safetensors": _rewritten(data, metadata=two_tags_swapped, resign=True),
        "flipped-weight.safetensors": _flip(data, len(data) - len(payload) + words_at, 0x01),  # lowest mantissa byte
        "flipped-vocab.safetensors": data.replace(b'\\"said\\"', b'\\"saie\\"', 1),
    }
    for name, content in models.items():
        (work / "models" / name).write_bytes(content)


# ----------------------------------------------------------------------------------------------------------
# Running.

def window_ner() -> str:
    script = shutil.which("window-ner", path=str(Path(sys.executable).parent)) or shutil.which("window-ner")
    if script is None:
        sys.exit("bad_inputs: the window-ner console script is not installed: pip install -e .")
    return script


def _command(argv: Sequence[str | bytes]) -> list[str | bytes]:
    """``window-ner argv`` under the memory limit (set in a small exec wrapper, not in a pre-exec hook, which
    is unsafe with threads)."""
    limit = (f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}));"
             " os.execv(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-c", limit, window_ner(), *argv]


def _environment() -> dict[str, str]:
    kept = ("PYTHONPATH", "PYTHONHOME")  # where Python and the package are; every other PYTHON* changes behaviour
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LC_", "TQDM")) or k in kept}
    return {**env, **ENV}


def _feed_fifo(path: Path, source: Path, finished: threading.Event) -> None:
    """Write ``source`` into the FIFO once a reader opens it (give up when the case has ``finished``)."""
    while not finished.is_set():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            time.sleep(0.02)
            continue
        os.set_blocking(fd, True)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(source.read_bytes())
        except BrokenPipeError:
            pass
        return


def _wait_for(path: Path, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def run_case(case: Case, work: Path) -> tuple[int | None, str, str, float]:
    """(exit code or None on a timeout, stdout, stderr, seconds) of one case, run in ``work``."""
    env = _environment()
    started = time.monotonic()
    background = None
    finished = threading.Event()
    if case.fifo:
        os.mkfifo(work / case.fifo)
        threading.Thread(target=_feed_fifo, args=(work / case.fifo, work / case.fifo_source, finished),
                         daemon=True).start()
    if case.background:
        background = subprocess.Popen(_command(case.background), cwd=work, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(work / case.wait_for, background, TIMEOUT)
    stdin = open(work / case.stdin, "rb") if case.stdin else subprocess.DEVNULL  # noqa: SIM115
    stdout = open(case.stdout, "wb") if case.stdout else subprocess.PIPE  # noqa: SIM115
    try:
        done = subprocess.run(_command(case.argv), cwd=work, env=env, stdin=stdin, stdout=stdout,
                              stderr=subprocess.PIPE, timeout=TIMEOUT, check=False)
        code, out, err = done.returncode, done.stdout or b"", done.stderr
    except subprocess.TimeoutExpired as expired:
        code, out, err = None, expired.stdout or b"", expired.stderr or b""
    finally:
        finished.set()
        for stream in (stdin, stdout):
            if not isinstance(stream, int):
                stream.close()
        if background is not None:
            background.send_signal(signal.SIGINT)
            try:
                background.wait(10)
            except subprocess.TimeoutExpired:
                background.kill()
                background.wait()
    return (code, out.decode("utf-8", "backslashreplace"), err.decode("utf-8", "backslashreplace"),
            time.monotonic() - started)


def stable(text: str, work: Path) -> str:
    """``text`` with the temporary folder, the repository, the host name and volatile numbers replaced."""
    for path in {str(work.resolve()), str(work)}:
        text = text.replace(path, "<tmp>")
    text = text.replace(str(ROOT), "<repo>")
    host = socket.gethostname()
    if len(host) >= 4:  # a shorter name could be part of any word
        text = re.sub(rf"\b{re.escape(host)}\b", "<host>", text)
    for pattern, replacement, _ in VOLATILE:
        text = re.sub(pattern, replacement, text)
    return text


def _error_line(lines: list[str]) -> str:
    """What a failed run said went wrong, after its first line: the exception a traceback ends with (its last
    unindented line that is not the CLI's own), else the first "window-ner:" line."""
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        skip = ("Traceback", "During handling", "The above exception", "window-ner:")
        return next((line for line in reversed(lines) if line and not line[0].isspace()
                     and not line.startswith(skip)), "")
    return next((line for line in lines[1:] if line.startswith("window-ner:")), "")


def outcome(case: Case, code: int | None, stdout: str, stderr: str, seconds: float) -> Outcome:
    if code is None:
        exit_ = f"timeout ({TIMEOUT:g} s)"
    elif code < 0:
        exit_ = f"killed ({signal.Signals(-code).name})"
    else:
        exit_ = str(code)
    on_stdout = case.stream == "stdout" and code == 0  # a failure's evidence is on stderr
    lines = (stdout if on_stdout else stderr).split("\n")
    matched = next((line for line in lines if re.search(case.match, line)), None) if case.match else None
    if matched is not None:
        chosen = matched
    else:  # no match asked for, or none found (a run that failed before its evidence): its first line
        chosen = lines[0]
        error = "" if on_stdout or code == 0 or chosen.startswith("window-ner: error") else _error_line(lines)
        if error:
            chosen += " … " + error
    chosen = chosen.rstrip("\r")
    stream = "stdout" if on_stdout else "stderr"
    pattern = f" /{case.match}/" if matched is not None else ""
    label = f"[{stream}{pattern}] " if on_stdout or matched is not None else ""
    return Outcome(exit_, label, chosen, seconds, stdout, stderr)


def _setup_argv(options: dict[str, str]) -> list[str]:
    return ["train", *(part for option in options.items() for part in option), "--no-progress"]


def run_all(cases: Sequence[Case]) -> list[Outcome]:
    """Build the inputs and models in a temporary folder, then run the cases, ``WORKERS`` at a time."""
    with tempfile.TemporaryDirectory(prefix="bad-inputs-") as folder:
        work = Path(folder)
        write_inputs(work)
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            setups = [pool.submit(run_case, Case("setup", name, tuple(_setup_argv(options))), work)
                      for name, options in SETUP]
            code, _, err, _ = setups[0].result()
            if code != 0:
                sys.exit(f"bad_inputs: the setup training of 'model' failed (exit {code}):\n{err}")
            setups[1].result()  # the diverged run may fail: its case says how
            write_models(work)
            order = sorted(range(len(cases)), key=lambda i: not (cases[i].background or cases[i].fifo))
            futures = {i: pool.submit(run_case, cases[i], work) for i in order}
            outcomes = []
            for i, case in enumerate(cases):
                code, stdout, stderr, seconds = futures[i].result()
                outcomes.append(outcome(case, code, stable(stdout, work), stable(stderr, work), seconds))
            return outcomes


# ----------------------------------------------------------------------------------------------------------
# The document.

def visible(text: str) -> str:
    """Control, format, unassigned and combining characters as escapes (``\\x1b``, ``\\u200d``, ``\\u0301``), so
    the table shows them."""
    out = []
    for char in text:
        if char == "\\":  # so that a raw ESC (\x1b) and window-ner's own escape of it (\\x1b) differ
            out.append("\\\\")
        elif char == "\t":
            out.append("\\t")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Mn"):
            out.append(f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def code_cell(text: str, limit: int = SHOWN) -> str:
    """``text`` as a Markdown code span that is safe inside a table cell, cut after ``limit`` characters."""
    if not text:
        return "(nothing)"
    text = visible(text)
    if len(text) > limit:
        text = text[:limit] + "…"
    text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _shown_argument(argument: str | bytes) -> str:
    if isinstance(argument, bytes):
        argument = argument.decode("utf-8", "backslashreplace")
    if len(argument) > 60:
        argument = f"{argument[:20]}…({len(argument):,} characters)"
    return shlex.quote(argument)


def shown_command(argv: Sequence[str | bytes], case: Case | None = None) -> str:
    text = " ".join(["window-ner", *(_shown_argument(a) for a in argv)])
    if case is None:
        return text
    if case.stdin:
        text += f" < {case.stdin}"
    if case.stdout:
        text += f" > {case.stdout}"
    if case.fifo:
        text = f"mkfifo {case.fifo}; cat {case.fifo_source} > {case.fifo} & {text}"
    if case.background:
        text = f"{shown_command(case.background)} & (once {case.wait_for} exists) {text}"
    return text


@dataclass
class Row:
    number: str
    what: str
    command: str
    exit: str
    line: str
    item: str = ""

    def markdown(self) -> str:
        return f"| {self.number} | {self.what} | {self.command} | {self.exit} | {self.line} | {self.item} |"


def rows(cases: Sequence[Case], outcomes: Sequence[Outcome], numbers: Sequence[int] = ()) -> list[Row]:
    """The table rows; ``numbers`` are the cases' places in the whole table (by default 1, 2, ...)."""
    numbers = numbers or range(1, len(cases) + 1)
    return [Row(str(number), case.what, code_cell(shown_command(case.argv, case), limit=1000), result.exit,
                result.label + code_cell(result.line), case.item)
            for number, case, result in zip(numbers, cases, outcomes, strict=True)]


INTRO = """\
# Reliability: what bad input does

Each row below is one bad or adversarial input given to the real `window-ner` command line: the command, the
exit code it gave and the first line it printed on stderr. Nothing in the exit and stderr columns is written by
hand: `tools/bad_inputs.py` runs every case and writes this file.

```bash
python tools/bad_inputs.py --write                # run every case (about a minute) and rewrite this file
python tools/bad_inputs.py --check                # run every case; exit 1 listing each row that changed
python tools/bad_inputs.py --show --full -k BOM   # run the cases whose description holds "BOM", print all output
```

`tests/test_bad_inputs.py` runs `--check`, so a change of behaviour fails the tests until this file is
regenerated with `--write` and the new rows are reviewed.

How the cases run. The script builds every input in a fresh temporary folder (`<tmp>` in messages):
`train.conll` and `dev.conll` are the train and dev splits of the corpus bundled with the package; `conll/`, `vectors/`
(8-dimensional, generated) and `text/` hold the broken files; `model` and `diverged` are trained there first,
with the CLI:

{setup}

`models/` holds copies of `model/model.safetensors` edited as bytes: truncated, foreign formats, edited
metadata or tensors with the checksums the file records left as they were (as by someone editing the file) or
recomputed (as by a writer with that content), flipped bytes. Each case then runs the installed `window-ner`
script in that folder (paths in commands and messages are relative to it), two cases at a time, with:

- a {memory} GiB address-space limit (so huge sizes and `/dev/zero` fail at once instead of swapping) and a
  {timeout:g} s timeout;
- the environment `{env}`;
- for training, `{tiny}` unless the case is about one of those options, and a folder of its own under `runs/`.

What the columns show:

- **exit**: the exit code (0 success, 1 a bug in window-ner, 2 bad input, 130 interrupted).
- **first line of stderr**, with the temporary folder shown as `<tmp>`, the repository as `<repo>` and the
  host name as `<host>`. Control, invisible and combining characters (here and in commands) are shown as
  escapes (`\\x1b`, `\\u200d`, `\\u0301`) and a backslash as `\\\\`, so a raw ESC shows as `\\x1b`
  and the visible escape window-ner writes in its place as `\\\\x1b`; lines are cut after {shown} characters.
  When a failed run's first line is not its error, the error follows the `…`: the exception a traceback
  ends with, else the first `window-ner:` line. `[stdout]` marks stdout's first line, shown instead when a run
  whose output is the evidence (text to tag) succeeds; `[stderr /REGEX/]` (or `[stdout /REGEX/]`) marks the
  first line matching REGEX. What changes from run to run is replaced:
{volatile}
- **item**: the item of issue 18 the case reproduces.
"""


def document(cases: Sequence[Case], outcomes: Sequence[Outcome]) -> str:
    env = " ".join(f"{k}={v}" for k, v in ENV.items())
    volatile = "\n".join(f"  - {what}" for _, _, what in VOLATILE)
    setup = "\n".join(f"- `{shown_command(_setup_argv(options))}`" for _, options in SETUP)
    parts = [INTRO.format(setup=setup, memory=MEMORY_LIMIT >> 30, timeout=TIMEOUT, env=env,
                          tiny=" ".join(f"{k} {v}" for k, v in TINY.items()), volatile=volatile, shown=SHOWN)]
    area = None
    for case, row in zip(cases, rows(cases, outcomes), strict=True):
        if case.area != area:
            area = case.area
            parts.append(f"\n## {area}\n\n| # | case | command | exit | first line of stderr | item |\n"
                         "|---|---|---|---|---|---|")
        parts.append(row.markdown())
    return "\n".join(parts) + "\n"


def read_rows(text: str) -> dict[str, Row]:
    """The rows of a document written by ``document``, by case description."""
    found = {}
    for line in text.split("\n"):
        if re.match(r"^\| \d+ \|", line):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
            row = Row(*cells[:5], item=cells[5] if len(cells) > 5 else "")
            found[row.what] = row
    return found


def differences(old: dict[str, Row], new: Sequence[Row]) -> list[str]:
    problems = []
    for row in new:
        before = old.get(row.what)
        if before is None:
            problems.append(f"#{row.number} {row.what}: not in {DOC.name} (run --write)")
            continue
        changes = [f"  {name}: {getattr(before, name)}\n  {' ' * len(name)}  now {getattr(row, name)}"
                   for name in ("exit", "line", "command") if getattr(before, name) != getattr(row, name)]
        if changes:
            problems.append(f"#{row.number} {row.what}:\n" + "\n".join(changes))
    names = {row.what for row in new}
    problems += [f"{what}: in {DOC.name} but no longer a case (run --write)" for what in old if what not in names]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help=f"fail when a case differs from {DOC}")
    mode.add_argument("--write", action="store_true", help=f"rewrite {DOC}")
    mode.add_argument("--show", action="store_true", help="print each case's result")
    parser.add_argument("--full", action="store_true", help="with --show: also print stdout and stderr")
    parser.add_argument("-k", metavar="TEXT", default="", help="only the cases whose description holds TEXT "
                        "(with --check or --show)")
    args = parser.parse_args(argv)
    if args.write and args.k:
        parser.error("--write runs every case")
    cases = build_cases()
    numbers = [n for n, case in enumerate(cases, 1) if args.k.lower() in case.what.lower()]
    selected = [cases[n - 1] for n in numbers]
    if not selected:
        parser.error(f"no case description holds {args.k!r}")
    started = time.monotonic()
    outcomes = run_all(selected)
    seconds = time.monotonic() - started
    if args.show:
        for row, result in zip(rows(selected, outcomes, numbers), outcomes, strict=True):
            print(f"#{row.number} {row.what} ({result.seconds:.1f} s)\n  {row.command}\n  exit {row.exit}: {row.line}")
            if args.full:
                for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
                    print(f"  --- {name}\n" + "\n".join("  " + visible(line)[:SHOWN] for line in text.split("\n")[:40]))
        return 0
    if args.write:
        DOC.write_text(document(cases, outcomes), encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}: {len(cases)} cases in {seconds:.0f} s")
        return 0
    committed = read_rows(DOC.read_text(encoding="utf-8")) if DOC.exists() else {}
    if args.k:
        committed = {what: row for what, row in committed.items() if args.k.lower() in what.lower()}
    problems = differences(committed, rows(selected, outcomes, numbers))
    for problem in problems:
        print(problem)
    print(f"{len(selected)} cases in {seconds:.0f} s: "
          + (f"{len(problems)} differ from {DOC.relative_to(ROOT)}" if problems else "all as documented"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
