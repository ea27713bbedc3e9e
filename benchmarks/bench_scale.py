"""Tagging big inputs from the command line: tokens/s and peak memory at 100 MB and 1 GB, against the
in-process Tagger.tag_texts on the same text, with 1 and 2 worker processes and on a two-worker Dask
LocalCluster, in one run.

    python benchmarks/bench_scale.py --model runs/glove [--sizes 100MB 1GB] [--runs cli1 cli2 dask]

The input is generated on the fly (never committed): CoNLL-2003 train sentences (or the bundled sample
corpus without --data), their tokens joined by spaces, one sentence per line, in a seeded random order,
repeated until the size is reached. Tokens are counted from the sentences written (the tokenizer gives back
the CoNLL tokens for 99.5-99.8% of the sentences). The in-process reference tags the first --reference MB of
the same file with Tagger.tag_texts in chunks of the CLI's size, text already in memory. Peak memory is the
largest sum of the resident sizes of the tagging process and its children, sampled every 0.1 s (for Dask:
the scheduler-side client process and the workers). Needs psutil (pip install -e ".[bench,dask]").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from window_ner.ner.data.conll import read_conll
from window_ner.ner.data.tokenize import tokenize
from window_ner.ner.experiment import sample_corpus
from window_ner.ner.inference.records import chunked, read_records
from window_ner.ner.inference.tagger import Tagger

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import blas_name, cpu_model, usable_cores  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
UNITS = {"KB": 1e3, "MB": 1e6, "GB": 1e9}


def parse_size(text: str) -> int:
    for unit, factor in UNITS.items():
        if text.upper().endswith(unit):
            return int(float(text[:-len(unit)]) * factor)
    return int(text)


def generate(path: Path, size: int, sentences: list[list[str]], seed: int = 1) -> int:
    """Write about ``size`` bytes of one sentence per line; returns the number of tokens written."""
    rng = random.Random(seed)
    lines = [(" ".join(tokens) + "\n").encode("utf-8") for tokens in sentences]
    counts = [len(tokens) for tokens in sentences]
    order = list(range(len(lines)))
    written = tokens = 0
    with open(path, "wb") as out:
        while written < size:
            rng.shuffle(order)
            block = []
            for i in order:
                block.append(lines[i])
                written += len(lines[i])
                tokens += counts[i]
                if written >= size:
                    break
            out.write(b"".join(block))
    return tokens


class PeakMemory:
    """The largest total resident size of some processes and their descendants, sampled in a thread."""

    def __init__(self, pids: list[int]):
        self.roots = [psutil.Process(pid) for pid in pids]
        self.peak = 0
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while self.running:
            total = 0
            for root in self.roots:
                try:
                    family = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                for process in family:
                    with contextlib.suppress(psutil.Error):  # it may have just ended
                        total += process.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak


def run_cli(argv: list[str], watch: list[int] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak resident bytes (the process, its children and ``watch``), stderr's tail."""
    began = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    memory = PeakMemory([process.pid, *(watch or [])])
    _, err = process.communicate()
    seconds = time.perf_counter() - began
    peak = memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}):\n{err}")
    return seconds, peak, err.strip()[-200:]


def in_process_rate(model: Path, path: Path, limit: int) -> tuple[float, int]:
    """tokens/s of Tagger.tag_texts on the first ``limit`` bytes of ``path`` (text read beforehand), in the
    CLI's chunks; the tokens are the tokenizer's."""
    tagger = Tagger.load(model)
    with open(path, "rb") as stream:
        records = []
        size = 0
        for record in read_records(stream, str(path)):
            records.append(record)
            size += len(record.text) + 1
            if size >= limit:
                break
    chunks = [[r.text for r in chunk] for chunk in chunked(records)]
    tokens = sum(len(sentence) for chunk in chunks for text in chunk for sentence in tokenize(text))
    tagger.tag_texts(chunks[0])  # warm up
    began = time.perf_counter()
    for chunk in chunks:
        tagger.tag_texts(chunk)
    return tokens / (time.perf_counter() - began), tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", nargs="+", default=["100MB", "1GB"])
    parser.add_argument("--runs", nargs="+", default=["cli1", "cli2", "dask"], choices=["cli1", "cli2", "dask"])
    parser.add_argument("--reference", default="20MB", help="bytes of the input the in-process reference tags")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    train = args.data / "conll2003" / "train.txt"
    source = train if train.exists() else sample_corpus("train")
    sentences = [s.tokens for s in read_conll(source)]
    cli = [sys.executable, "-m", "window_ner", "tag", "--model", str(args.model), "--format", "jsonl", "--no-progress"]
    rows, figures = [], {"machine": {}, "runs": []}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        folder = Path(scratch)
        for size_text in args.sizes:
            size = parse_size(size_text)
            text = folder / f"news-{size_text}.txt"
            tokens = generate(text, size, sentences)
            reference, reference_tokens = in_process_rate(args.model, text, parse_size(args.reference))
            rows.append((size_text, "in-process Tagger.tag_texts (reference)", f"{reference_tokens:,}",
                         "", f"{reference:,.0f}", "1.00", ""))
            figures["runs"].append({"size": size_text, "run": "in-process", "tokens": reference_tokens,
                                    "tokens_per_s": reference})
            one_worker = None
            for run in args.runs:
                output = folder / "out"
                if run == "dask":
                    seconds, peak = run_dask(cli, text, output)
                else:
                    output.mkdir(exist_ok=True)
                    seconds, peak, _ = run_cli([*cli, "--input", str(text), "--output", str(output / "all.jsonl"),
                                                "--workers", run[-1]])
                rate = tokens / seconds
                one_worker = rate if run == "cli1" else one_worker
                versus = f"{rate / one_worker:.2f}x 1 worker" if one_worker and run != "cli1" else ""
                rows.append((size_text, {"cli1": "CLI, 1 process", "cli2": "CLI, --workers 2",
                                         "dask": "CLI --dask, LocalCluster of 2 workers"}[run], f"{tokens:,}",
                             f"{seconds:.1f}", f"{rate:,.0f}", f"{rate / reference:.2f}", f"{peak / 1e6:,.0f}"
                             + (f" ({versus})" if versus else "")))
                figures["runs"].append({"size": size_text, "run": run, "tokens": tokens, "seconds": seconds,
                                        "tokens_per_s": rate, "of_reference": rate / reference, "peak_rss": peak})
                shutil.rmtree(output, ignore_errors=True)
            text.unlink()
    machine = (f"{platform.processor() or platform.machine()}, {usable_cores()} usable cores, "
               f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
               f"BLAS {blas_name()}")
    model_name = cpu_model()
    print(f"\nMachine: {model_name}; {machine}\nCommand: python {' '.join(sys.argv)}\n")
    print("| input | run | tokens | seconds | tokens/s | of in-process | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.json:
        figures["machine"] = {"cpu": model_name, "summary": machine}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def run_dask(cli: list[str], text: Path, output: Path) -> tuple[float, int]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        workers = [info["pid"] for info in cluster.scheduler_info["workers"].values() if "pid" in info]
        workers = workers or [p.pid for p in psutil.Process().children(recursive=True)]
        seconds, peak, _ = run_cli([*cli, "--input", str(text), "--dask", cluster.scheduler_address, "--output",
                                    str(output)], watch=workers)
    return seconds, peak


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
