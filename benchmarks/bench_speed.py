"""Speed of the window tagger on CoNLL-2003, window-ner vs PyTorch, side by side in one run.

    python benchmarks/bench_speed.py [--data ../shared/data] [--repeats 5] [--batches N]

Training is timed over one epoch of CoNLL-2003 train (--batches to time fewer batches).

Configuration (the issue's): GloVe 50d + 5-dim capitalisation embedding, window 5, hidden 300, tanh,
9 IOB2 tags, float32, Adam, batch 256, dropout 0.2 / 0.5 (as we train). Our step is train()'s own
(`train_step`); it is timed without gradient-norm clipping, as PyTorch's (whose clip_grad_norm_ refuses
sparse gradients), and again with the clipping `window-ner train` applies by default. PyTorch is optional
(`pip install torch==2.13.0`); without it only the window-ner rows are printed. Every figure is the median
of --repeats runs; ratios compare runs made in this same process. The roofline fraction divides each timed
training run by the float32 matmul speed measured right after it, since this speed drifts with the machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from window_ner.autodiff import no_grad
from window_ner.ner.data.conll import load_conll, write_conll
from window_ner.ner.data.labels import SchemeLabels
from window_ner.ner.data.vectors import load_vectors, vocab_matrix
from window_ner.ner.inference.tagger import CHUNK, Tagger
from window_ner.ner.model.classifier import ModelConfig, WindowClassifier
from window_ner.ner.model.encoder import Encoder
from window_ner.ner.model.heads import SoftmaxHead
from window_ner.ner.training.loop import TrainConfig, make_optimizer, train_step

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BATCH = 256


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def matmul_gflops(repeats: int) -> float:
    """float32 matrix product speed on this machine now: the roofline's ceiling."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 2048), dtype=np.float32)
    b = rng.standard_normal((2048, 2048), dtype=np.float32)
    a @ b
    return 2 * 2048**3 / median_time(lambda: a @ b, repeats) / 1e9


def build(data: Path):
    conll = data / "conll2003"
    train = load_conll(conll / "train.txt")
    test = load_conll(conll / "test.txt")
    vectors = load_vectors(data / "glove" / "glove.6B.50d.conll+top100k.txt.gz")
    labels = SchemeLabels.fit([s.tags for s in train], "IOB1", "IOB2")
    encoder = Encoder.build([s.tokens for s in train], labels, extra_words=vectors.words)
    rng = np.random.default_rng(1)
    config = ModelConfig(vocab_size=len(encoder.vocab), feature_sizes=encoder.feature_sizes,
                         head_options=SoftmaxHead.Options(scheme="IOB2"))
    matrix = vocab_matrix(vectors, encoder.vocab, rng)
    model = WindowClassifier(config, labels, rng, word_vectors=matrix)
    train_data = encoder.encode([s.tokens for s in train], [s.tags for s in train], "IOB1")
    return train, test, encoder, model, matrix, train_data


def flops_per_token(model: WindowClassifier) -> tuple[float, float]:
    """Matrix-product FLOPs per token: forward (2 per multiply-add), and training (forward + 2x back)."""
    config, n_tags = model.config, len(model.head.labels.tags)
    forward = 2 * config.input_dim * config.hidden[0] + 2 * config.hidden[0] * n_tags
    return forward, 3 * forward


def ours_train(model, train_data, batches: int, repeats: int, clip: float) -> tuple[float, float]:
    """(median tokens/s, median roofline fraction) of train()'s own step, gradient-norm clipping at ``clip``
    (0: none). Each timed run of ``batches`` batches is followed by a measurement of the matmul ceiling, so
    each run's fraction divides by the ceiling of its own moment."""
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], TrainConfig())
    order = np.random.default_rng(0).permutation(len(train_data))
    model.train()
    train_flops = flops_per_token(model)[1]

    def run():
        for k in range(batches):
            train_step(model, train_data, order[k * BATCH:(k + 1) * BATCH], optimizer, clip)

    run()  # warm-up
    speeds, fractions = [], []
    for _ in range(repeats):
        tokens = batches * BATCH / median_time(run, 1)
        speeds.append(tokens)
        fractions.append(tokens * train_flops / 1e9 / matmul_gflops(3))
    return statistics.median(speeds), statistics.median(fractions)


def torch_train(matrix, train_data, n_caps, n_tags, sparse: bool, batches: int, repeats: int) -> float:
    import torch
    from torch_reference import TorchWindow, make_step

    torch.manual_seed(0)
    model = TorchWindow(matrix, n_caps, 5, 5, 300, n_tags, sparse, 0.2, 0.5)
    step = make_step(model, sparse)
    words = torch.from_numpy(train_data.word_windows)
    caps = torch.from_numpy(train_data.feature_windows["caps"])
    targets = torch.from_numpy(train_data.targets)
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(train_data)))

    def run():
        for k in range(batches):
            index = order[k * BATCH:(k + 1) * BATCH]
            step(words[index], caps[index], targets[index])

    run()
    return batches * BATCH / median_time(run, repeats)


def ours_infer(model, data, repeats: int) -> float:
    model.eval()

    def run():
        with no_grad():
            for first in range(0, len(data), CHUNK):
                part = slice(first, first + CHUNK)
                model(data.word_windows[part], {k: v[part] for k, v in data.feature_windows.items()})

    run()
    return len(data) / median_time(run, repeats)


def torch_infer(matrix, data, n_caps, n_tags, repeats: int) -> float:
    import torch
    from torch_reference import TorchWindow

    model = TorchWindow(matrix, n_caps, 5, 5, 300, n_tags, False, 0.2, 0.5).eval()
    words = torch.from_numpy(data.word_windows)
    caps = torch.from_numpy(data.feature_windows["caps"])

    def run():
        with torch.inference_mode():
            for first in range(0, len(data), CHUNK):
                model(words[first:first + CHUNK], caps[first:first + CHUNK])

    run()
    return len(data) / median_time(run, repeats)


def child_peak_mb(code: str) -> float:
    """Peak resident memory of a fresh Python running ``code``.

    Read from VmHWM, which starts afresh at exec; ru_maxrss would carry over this (large) parent's peak.
    """
    script = code + (
        "\nprint([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0])"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, default=None,
                        help="training batches per timed run (default: one epoch of CoNLL-2003 train)")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if not (args.data / "conll2003" / "train.txt").exists():
        print(f"skipped: CoNLL-2003 not found under {args.data}")
        return 0
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        have_torch = True
    except ImportError:
        have_torch = False

    train, test, encoder, model, matrix, train_data = build(args.data)
    test_data = encoder.encode([s.tokens for s in test], [s.tags for s in test], "IOB1")
    n_caps, n_tags = encoder.feature_sizes["caps"], len(encoder.tags)
    fwd_flops, train_flops = flops_per_token(model)
    peak = matmul_gflops(args.repeats)
    rows = []

    batches = args.batches or len(train_data) // BATCH
    ours, ours_roof = ours_train(model, train_data, batches, args.repeats, clip=0.0)
    rows.append(("train", "window-ner (row-sparse Adam; no clipping, as the PyTorch rows)", ours))
    clip = TrainConfig().clip
    clipped = ours_train(model, train_data, batches, args.repeats, clip)[0]
    rows.append(("train", f"window-ner as `window-ner train` runs it (+ gradient-norm clipping at {clip:g})",
                 clipped))
    if have_torch:
        idiomatic = torch_train(matrix, train_data, n_caps, n_tags, False, max(batches // 10, 10), args.repeats)
        tuned = torch_train(matrix, train_data, n_caps, n_tags, True, batches, args.repeats)
        rows.append(("train", "PyTorch idiomatic (dense Embedding, Adam)", idiomatic))
        rows.append(("train", "PyTorch tuned (sparse Embedding, SparseAdam + Adam)", tuned))

    # A tagging process holds no training set: drop its Python objects so the cyclic GC does not keep
    # scanning them while tagging allocates tokens (it cost about 40% of raw-text throughput here).
    del train, train_data
    gc.collect()
    infer = ours_infer(model, test_data, args.repeats)
    rows.append(("infer, model only", "window-ner", infer))
    if have_torch:
        rows.append(("infer, model only", "PyTorch (inference_mode)", torch_infer(matrix, test_data, n_caps, n_tags,
                                                                                  args.repeats)))

    tagger = Tagger(model, encoder)
    n_test = sum(len(s.tokens) for s in test)
    with tempfile.TemporaryDirectory() as tmp:
        out_file = Path(tmp) / "pred.conll"

        def end_to_end():
            sentences = load_conll(args.data / "conll2003" / "test.txt")
            write_conll(out_file, sentences, tagger.predict([s.tokens for s in sentences]))

        end_to_end()
        rows.append(("tag pre-tokenised test file (read, featurise, score, Viterbi, write)", "window-ner",
                     n_test / median_time(end_to_end, args.repeats)))
        texts = [" ".join(s.tokens) for s in test]
        tagger.tag_texts(texts)
        rows.append(("tag raw text (tokenize + all of the above, no file I/O)", "window-ner",
                     n_test / median_time(lambda: tagger.tag_texts(texts), args.repeats)))

        model_dir = Path(tmp) / "model"
        tagger.save(model_dir)
        cold = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            subprocess.run([sys.executable, "-m", "window_ner.cli", "tag", "--model", str(model_dir),
                            "Angela Merkel flew from Berlin to Paris."], check=True, capture_output=True)
            cold.append(time.perf_counter() - began)

        memory = {}
        if not args.skip_memory:
            data = str(args.data)
            memory["training (load GloVe + corpus, 1 epoch)"] = child_peak_mb(
                "from pathlib import Path\nfrom window_ner.ner.experiment import Experiment, run_experiment\n"
                "from window_ner.ner.training.loop import TrainConfig\nimport io\n"
                f"d=Path({data!r})\n"
                "run_experiment(Experiment(d/'conll2003/train.txt', d/'conll2003/dev.txt', "
                "vectors_path=d/'glove/glove.6B.50d.conll+top100k.txt.gz', training=TrainConfig(epochs=1), "
                "progress=False), log=io.StringIO())")
            memory["tagging the test file (load model + tag)"] = child_peak_mb(
                "from window_ner.ner.inference.tagger import Tagger\nfrom window_ner.ner.data.conll import load_conll\n"
                f"t=Tagger.load({str(model_dir)!r})\ns=load_conll({str(args.data / 'conll2003/test.txt')!r})\n"
                "t.predict([x.tokens for x in s])")

    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}"
          + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)" if have_torch else
             ", torch not installed (optional: pip install torch==2.13.0)"))
    print(f"float32 matmul (2048^3): {peak:.0f} GFLOP/s at the start; model: {fwd_flops / 1e3:.0f} kFLOP/token "
          f"forward, {train_flops / 1e3:.0f} kFLOP/token training")
    print(" ".join(["command: python benchmarks/bench_speed.py", *sys.argv[1:]])
          + f" ({batches} batches of {BATCH} per timed training run)\n")
    print("| what | who | tokens/s | ratio |")
    print("|---|---|---:|---:|")
    reference = {}
    for what, who, value in rows:
        reference.setdefault(what, value)
        ratio = value / reference[what]
        print(f"| {what} | {who} | {value:,.0f} | {ratio:.2f}x |")
    print(f"\ntraining roofline fraction (window-ner): {100 * ours_roof:.1f}% of the float32 matmul speed (median "
          "over the timed runs, each divided by the matmul speed measured right after it)")
    if have_torch:
        print(f"window-ner training vs PyTorch tuned: {ours / tuned:.2f}x; vs idiomatic: {ours / idiomatic:.2f}x")
    print(f"cold `window-ner tag` of one sentence (process start + model load): median {statistics.median(cold):.2f} s")
    for what, mb in memory.items():
        print(f"peak resident memory, {what}: {mb:.0f} MB")
    print(json.dumps({"rows": rows, "cold_tag_s": statistics.median(cold), "memory_mb": memory,
                      "roofline": ours_roof}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
