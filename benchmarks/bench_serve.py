"""The HTTP server under load: requests/s, tokens/s and latency of the real ``window-ner serve`` (one worker) on
loopback, for one-sentence requests and for 100-sentence requests, against the in-process Tagger.tag_texts
on the same 100-sentence texts.

    python benchmarks/bench_serve.py --model runs/glove [--seconds 60] [--clients 8] [--batch-clients 2]

Each scenario runs N client threads (http.client, one keep-alive connection each, bodies encoded beforehand)
for --seconds, then stops. Sentences are CoNLL-2003 test's (or the bundled sample corpus's without --data),
tokens joined by spaces; tokens are counted from those sentences. The server's resident size is sampled
every 0.2 s with psutil (start, middle, end and max of each scenario). Loopback only: the server listens on
127.0.0.1 and is stopped at the end. Needs the serve extra and psutil (pip install -e ".[serve,bench]").
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from window_ner.ner.data.conll import read_conll
from window_ner.ner.experiment import sample_corpus
from window_ner.ner.inference.tagger import Tagger

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _machine import blas_name, cpu_model, usable_cores  # noqa: E402
from tests.serve._server import HOST, running_server  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass
class Request:
    """One request body, encoded, and the tokens it holds."""

    body: bytes
    tokens: int


@dataclass
class Outcome:
    """What one scenario's clients saw."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # of the successful requests
    tokens: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def count(self, error: str) -> None:
        self.errors[error] = self.errors.get(error, 0) + 1


class ResidentSize:
    """The server process's RSS, sampled in a thread: (seconds since start, bytes)."""

    def __init__(self, pid: int, every: float = 0.2):
        self.process, self.every = psutil.Process(pid), every
        self.samples: list[tuple[float, int]] = []
        self.running = True
        self.began = time.perf_counter()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while self.running:
            try:
                self.samples.append((time.perf_counter() - self.began, self.process.memory_info().rss))
            except psutil.Error:
                return
            time.sleep(self.every)

    def stop(self) -> dict[str, int]:
        self.running = False
        self.thread.join()
        sizes = [size for _, size in self.samples] or [0]
        return {"start": sizes[0], "middle": sizes[len(sizes) // 2], "end": sizes[-1], "max": max(sizes)}


def load_sentences(data: Path) -> tuple[list[str], str]:
    test = data / "conll2003" / "test.txt"
    source = test if test.exists() else sample_corpus("test")
    sentences = [" ".join(s.tokens) for s in read_conll(source) if s.tokens and s.tokens[0] != "-DOCSTART-"]
    return sentences, str(source)


def requests_of(sentences: list[str], per_request: int, count: int, seed: int = 1) -> list[Request]:
    """``count`` bodies of ``per_request`` sentences each, drawn in a seeded random order."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        chosen = [rng.choice(sentences) for _ in range(per_request)]
        body = {"text": chosen[0]} if per_request == 1 else {"texts": chosen}
        out.append(Request(json.dumps(body).encode(), sum(len(s.split()) for s in chosen)))
    return out


def client(port: int, requests: list[Request], offset: int, stop_at: float, outcome: Outcome,
           lock: threading.Lock) -> None:
    """Send requests one after another on one keep-alive connection until ``stop_at``."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    headers = {"content-type": "application/json"}
    latencies, tokens, errors = [], 0, []
    i = offset
    while time.perf_counter() < stop_at:
        request = requests[i % len(requests)]
        i += 1
        began = time.perf_counter()
        try:
            connection.request("POST", "/tag", body=request.body, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            errors.append(type(error).__name__)
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=60)
            continue
        if response.status == 200:
            latencies.append(time.perf_counter() - began)
            tokens += request.tokens
        else:
            errors.append(f"HTTP {response.status}")
    connection.close()
    with lock:
        outcome.latencies.extend(latencies)
        outcome.tokens += tokens
        for error in errors:
            outcome.count(error)


def run_scenario(port: int, pid: int, requests: list[Request], clients: int, seconds: float
                 ) -> tuple[Outcome, dict[str, int]]:
    outcome, lock = Outcome(), threading.Lock()
    memory = ResidentSize(pid)
    began = time.perf_counter()
    stop_at = began + seconds
    threads = [threading.Thread(target=client, args=(port, requests, k * 997, stop_at, outcome, lock))
               for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.seconds = time.perf_counter() - began
    return outcome, memory.stop()


def in_process_rate(model: Path, requests: list[Request], seconds: float) -> float:
    """tokens/s of Tagger.tag_texts on the same 100-sentence texts, for about ``seconds`` (at least once each
    of a few requests)."""
    tagger = Tagger.load(model)
    batches = [json.loads(r.body)["texts"] for r in requests]
    tagger.tag_texts(batches[0])  # warm up
    tokens, began, i = 0, time.perf_counter(), 0
    while i < 3 or time.perf_counter() - began < seconds:
        tagger.tag_texts(batches[i % len(batches)])
        tokens += requests[i % len(requests)].tokens
        i += 1
    return tokens / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="model folder or .safetensors file")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding conll2003/test.txt")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each scenario")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients sending one sentence each")
    parser.add_argument("--batch-clients", type=int, default=2, help="concurrent clients sending 100 sentences")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    sentences, source = load_sentences(args.data)
    single = requests_of(sentences, 1, 5_000)
    hundred = requests_of(sentences, 100, 200, seed=2)
    reference = in_process_rate(args.model, hundred, min(args.seconds, 10.0))
    rows, figures = [], {"source": source, "in_process_tokens_per_s": reference, "scenarios": []}
    with running_server(args.model, "--max-pending", "64") as server:
        scenarios = [("1 sentence per request", single, args.clients),
                     ("100 sentences per request", hundred, args.batch_clients)]
        for name, requests, clients in scenarios:
            outcome, memory = run_scenario(server.port, server.process.pid, requests, clients, args.seconds)
            done = len(outcome.latencies)
            p50, p95, p99 = (np.percentile(outcome.latencies, [50, 95, 99]) * 1000 if done else (np.nan,) * 3)
            rate = outcome.tokens / outcome.seconds
            errors = sum(outcome.errors.values())
            rows.append((name, str(clients), f"{done / outcome.seconds:,.1f}", f"{rate:,.0f}",
                         f"{rate / reference:.2f}", f"{p50:.1f} / {p95:.1f} / {p99:.1f}",
                         f"{errors}" + (f" ({', '.join(f'{k}: {v}' for k, v in outcome.errors.items())})"
                                        if errors else ""),
                         " / ".join(f"{memory[k] / 1e6:,.0f}" for k in ("start", "middle", "end", "max"))))
            figures["scenarios"].append({"scenario": name, "clients": clients, "seconds": outcome.seconds,
                                         "requests": done, "tokens_per_s": rate, "of_in_process": rate / reference,
                                         "latency_ms": {"p50": p50, "p95": p95, "p99": p99},
                                         "errors": outcome.errors, "rss": memory})
    machine = (f"{cpu_model()}; {usable_cores()} usable cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
               f"Python {platform.python_version()}, BLAS {blas_name()}")
    print(f"\nMachine: {machine}\nCommand: python {' '.join(sys.argv)}\nSentences: {source}; the server: one "
          f"worker on {HOST}; in-process Tagger.tag_texts on the same 100-sentence texts: {reference:,.0f} tokens/s\n")
    print("| scenario | clients | requests/s | tokens/s | of in-process | latency p50 / p95 / p99 ms | errors "
          "| server RSS MB start / middle / end / max |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.json:
        figures["machine"] = machine
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
