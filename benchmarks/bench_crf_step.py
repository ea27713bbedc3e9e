"""A CRF training step on CoNLL-2003, window-ner vs PyTorch on the same weights and the same sentence batches.

    python benchmarks/bench_crf_step.py [--data ../shared/data] [--repeats 10] [--batches 20] [--check-only]

Models (built by the library, as `window-ner train --head crf` builds them): GloVe 50d, window 5, hidden 300
tanh, IOBES tags, a linear-chain CRF head (the scheme's forbidden moves -inf), dropout 0.2 / 0.5, float32,
sentence batches of about 256 tokens; features caps + chars (character CNN), and caps alone. The PyTorch
twin (benchmarks/torch_reference.py: TorchWindowCRF, TorchCRF, TorchChars) gets a copy of our weights.

1. Check: on the first few of the batches, with dropout off, both give the same loss (relative difference
   <= 1e-5 in float32, <= 1e-10 in float64) and the same gradient of every parameter (relative error of the
   whole gradient <= 1e-4 in float32, <= 1e-8 in float64); the CRF's transition, start and end scores are
   drawn at random first, so that these terms are checked too (they start at zero). Raises if not.
2. Timing (skipped with --check-only): full training steps (forward, backward, Adam; no gradient clipping on
   either side: PyTorch's clip_grad_norm_ refuses sparse gradients) over --batches batches, train()'s own
   step for ours (lazy Adam on the embeddings' touched rows), SparseAdam on the sparse embeddings + Adam for
   PyTorch. One repeat is a pass over the batches; ours and PyTorch take turns, pass by pass, for every
   variant (who goes first alternates); each figure is the median of --repeats passes. PyTorch runs in a
   process of its own (two thread pools in one process slow each other down), with
   torch.set_num_threads equal to our BLAS threads; this process hands it its turns.

PyTorch is optional (`pip install torch==2.13.0`); without it, or without the data, the script says so and
stops.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _machine import blas_name, blas_threads, cpu_model, thread_settings, usable_cores

from window_ner.ner.experiment import Experiment, _load_splits, build_tagger
from window_ner.ner.model.classifier import ModelOptions, WindowClassifier
from window_ner.ner.model.encoder import EncodedCorpus
from window_ner.ner.model.heads import CRFHead
from window_ner.ner.training.batches import Batch, SentenceBatches
from window_ner.ner.training.loop import TrainConfig, batch_loss, make_optimizer, train_step

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN, VECTORS = "conll2003/train.txt", "glove/glove.6B.50d.conll+top100k.txt.gz"
VARIANTS = {"crf, caps + chars": ("caps", "chars"), "crf, caps": ("caps",)}
CHECKED = 5  # batches the check runs on
TOLERANCES = {"float32": (1e-5, 1e-4), "float64": (1e-10, 1e-8)}  # (loss, gradient) relative
SETTLE = 0.05  # seconds of pause before each timed pass, so the other side's spinning threads go to sleep


class CheckFailed(RuntimeError):
    """Ours and PyTorch disagree on a loss or a gradient."""


# ----------------------------------------------------------------------------- our side

def build(data: Path, features: tuple[str, ...]) -> tuple[WindowClassifier, EncodedCorpus]:
    """Our untrained CRF model with ``features``, as run_experiment builds it, and CoNLL-2003 train encoded."""
    exp = Experiment(data / TRAIN, data / TRAIN.replace("train", "dev"), vectors_path=data / VECTORS,
                     model=ModelOptions(features=features), head="crf", head_options=CRFHead.Options(),
                     progress=False)
    splits = _load_splits(exp)
    tagger = build_tagger(exp, splits, np.random.default_rng(exp.training.seed), io.StringIO())
    encoded = tagger.encode([s.tokens for s in splits.train], [s.tags for s in splits.train], splits.train_scheme,
                            documents=[s.doc for s in splits.train])
    return tagger.model, encoded


def sentence_batches(data: EncodedCorpus, count: int) -> list[Batch]:
    """The first ``count`` sentence batches of an epoch, as train() cuts them."""
    epoch = SentenceBatches(data, TrainConfig().batch_size).epoch(np.random.default_rng(0))
    return [batch for _, batch in zip(range(count), epoch, strict=False)]


def as_float64(model: WindowClassifier) -> WindowClassifier:
    """The same model with float64 parameters."""
    twin = WindowClassifier(model.config, model.head.labels, np.random.default_rng(0), dtype=np.float64)
    for (name, param), (other, twin_param) in zip(model.named_parameters(), twin.named_parameters(), strict=True):
        assert name == other, (name, other)
        twin_param.data[...] = param.data
    return twin


def ours_loss_and_grads(model: WindowClassifier, data: EncodedCorpus, batch: Batch) -> tuple[float, dict]:
    """Loss and every parameter's dense gradient of one batch (dropout off)."""
    model.eval()
    model.zero_grad()
    loss = batch_loss(model, data, batch.tokens, batch)
    loss.backward()
    grads = {}
    for name, param in model.named_parameters():
        grad = param.grad
        grads[name] = np.zeros_like(param.data) if grad is None else np.asarray(
            grad.to_dense() if hasattr(grad, "to_dense") else grad)
    model.zero_grad()
    return loss.item(), grads


def ours_runner(model: WindowClassifier, data: EncodedCorpus, batches: list[Batch]):
    """One timed pass over ``batches`` per call, train()'s step without clipping; returns seconds."""
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], TrainConfig())

    def run() -> float:
        model.train()
        began = time.perf_counter()
        for batch in batches:
            train_step(model, data, batch.tokens, optimizer, 0.0, batch)
        return time.perf_counter() - began

    return run


# ----------------------------------------------------------------------------- the PyTorch side

def batch_arrays(data: EncodedCorpus, batch: Batch) -> dict[str, np.ndarray]:
    """A batch's inputs as PyTorch takes them: windows sentence by sentence, the mask, the gold tags."""
    words, features = data.inputs(batch.tokens)
    return {"words": words, "mask": batch.mask, "tags": data.targets[batch.tokens],
            **{f"feature:{name}": ids for name, ids in features.items()}}


def torch_batch(arrays: dict[str, np.ndarray]) -> tuple:
    """The arguments of TorchWindowCRF.forward (and of make_crf_step's step) for one batch."""
    import torch

    features = {key.split(":", 1)[1]: torch.from_numpy(np.ascontiguousarray(v))
                for key, v in arrays.items() if key.startswith("feature:")}
    return (torch.from_numpy(arrays["words"]), features, torch.from_numpy(arrays["mask"]),
            torch.from_numpy(arrays["tags"]))


def torch_grad_in_our_layout(name: str, grad: Any) -> np.ndarray:
    """A PyTorch parameter's gradient as our parameter's shape (a Conv1d weight back to our (F, w * d))."""
    grad = (grad.to_dense() if grad.is_sparse else grad).detach().numpy()
    if name.endswith("conv.weight"):
        return grad.transpose(0, 2, 1).reshape(grad.shape[0], -1)
    return grad


def our_name(torch_name: str) -> str:
    """Our parameter's name for a TorchWindowCRF parameter's."""
    fixed = {"out.weight": "head.U", "out.bias": "head.c", "crf.transitions": "head.transitions",
             "crf.start": "head.start", "crf.end": "head.end"}
    if torch_name in fixed:
        return fixed[torch_name]
    if torch_name.startswith("layers.") or ".conv." in torch_name:  # our Linear layers name them W and b
        return torch_name.replace(".weight", ".W").replace(".bias", ".b")
    return torch_name  # the embedding tables: the same names


def torch_loss_and_grads(model: Any, arrays: dict[str, np.ndarray], dtype: Any) -> tuple[float, dict]:
    """Loss and every parameter's gradient (under our names, in our layout) of one batch (dropout off)."""
    model.eval()
    model.zero_grad(set_to_none=True)
    loss = model(*torch_batch(arrays))
    loss.backward()
    grads = {our_name(name): torch_grad_in_our_layout(name, p.grad) for name, p in model.named_parameters()}
    assert loss.dtype == dtype, loss.dtype
    return loss.item(), grads


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b|| (0 when both are zero)."""
    scale = float(np.linalg.norm(b))
    return float(np.linalg.norm(np.asarray(a, np.float64) - b)) / scale if scale else float(np.linalg.norm(a))


def check(name: str, model: WindowClassifier, data: EncodedCorpus, batches: list[Batch]) -> list[dict]:
    """Compare losses and gradients, float32 and float64; raise CheckFailed on a disagreement."""
    import torch
    from torch_reference import TorchWindowCRF, classifier_arrays

    rng = np.random.default_rng(7)
    head = model.head
    for param in (head.transitions, head.start, head.end):  # zeros at the start would hide a transposed matrix
        param.data[...] = rng.normal(0, 0.5, param.shape)
    twins = {"float32": (model, TorchWindowCRF.from_arrays(classifier_arrays(model)), torch.float32)}
    twin = copy.deepcopy(twins["float32"][1]).double()
    twins["float64"] = (as_float64(model), twin, torch.float64)
    results = []
    for dtype, (ours, theirs, torch_dtype) in twins.items():
        loss_tol, grad_tol = TOLERANCES[dtype]
        worst_loss, worst_grad, worst_param, losses = 0.0, 0.0, "", []
        for k, batch in enumerate(batches):
            our_loss, our_grads = ours_loss_and_grads(ours, data, batch)
            their_loss, their_grads = torch_loss_and_grads(theirs, batch_arrays(data, batch), torch_dtype)
            if set(our_grads) != set(their_grads):
                raise CheckFailed(f"{name}: parameters differ: {sorted(set(our_grads) ^ set(their_grads))}")
            losses.append(our_loss)
            loss_diff = abs(our_loss - their_loss) / abs(their_loss)
            if loss_diff > loss_tol:
                raise CheckFailed(f"{name}, {dtype}, batch {k}: loss {our_loss!r} (ours) vs {their_loss!r} "
                                  f"(PyTorch): relative difference {loss_diff:.2e} > {loss_tol:g}")
            worst_loss = max(worst_loss, loss_diff)
            for param, grad in our_grads.items():
                error = relative(grad, their_grads[param])
                if error > grad_tol:
                    raise CheckFailed(f"{name}, {dtype}, batch {k}: gradient of {param}: relative error {error:.2e} "
                                      f"> {grad_tol:g}")
                if error >= worst_grad:
                    worst_grad, worst_param = error, param
        results.append({"variant": name, "dtype": dtype, "batches": len(batches), "losses": losses,
                        "loss": worst_loss, "grad": worst_grad, "param": worst_param, "n_params": len(our_grads)})
    return results


def torch_worker(paths: list[str], threads: int) -> None:
    """The child process: PyTorch twins of the saved models; one JSON line per command on stdin ({"variant":
    k}: one timed pass over variant k's batches) with the pass's seconds."""
    import torch
    from torch_reference import TorchWindowCRF, make_crf_step

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    runners = []
    for path in paths:
        with np.load(path) as saved:
            arrays = {key: saved[key] for key in saved.files}
        model = TorchWindowCRF.from_arrays(arrays).train()
        step = make_crf_step(model)
        batches = [torch_batch({key.split("/", 1)[1]: v for key, v in arrays.items() if key.startswith(f"{k}/")})
                   for k in range(int(arrays["n_batches"]))]

        def run(step=step, batches=batches) -> float:
            began = time.perf_counter()
            for batch in batches:
                step(*batch)
            return time.perf_counter() - began

        runners.append(run)
    print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        print(json.dumps(runners[json.loads(line)["variant"]]()), flush=True)


class TorchProcess:
    """The child process of :func:`torch_worker`, and one timed pass on request."""

    def __init__(self, paths: list[Path], threads: int):
        command = [sys.executable, __file__, "--torch-worker", str(threads), *map(str, paths)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self._answer()

    def _answer(self) -> Any:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the PyTorch process ended (exit code {self.process.wait()}); its error is above")
        return json.loads(line)

    def run(self, variant: int) -> float:
        self.process.stdin.write(json.dumps({"variant": variant}) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


# ----------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=10, help="timed passes over the batches, per side [10]")
    parser.add_argument("--batches", type=int, default=20, help="sentence batches in a pass [20]")
    parser.add_argument("--check-only", action="store_true", help="check losses and gradients, time nothing")
    parser.add_argument("--torch-worker", nargs="+", help=argparse.SUPPRESS)  # the child process: threads, files
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    if args.torch_worker:
        torch_worker(args.torch_worker[1:], int(args.torch_worker[0]))
        return 0
    missing = [p for p in (args.data / TRAIN, args.data / VECTORS) if not p.exists()]
    if missing:
        print(f"skipped: {missing[0]} not found (see ../shared/data/README.md)")
        return 0
    try:
        import torch
    except ImportError:
        print("skipped: torch is not installed (optional: pip install torch==2.13.0)")
        return 0
    threads = blas_threads()[0]
    torch.set_num_threads(threads)
    if args.repeats < 1 or args.batches < 1:
        parser.error("--repeats and --batches must be at least 1")

    built, checks = {}, []
    for name, features in VARIANTS.items():
        model, data = build(args.data, features)
        batches = sentence_batches(data, args.batches)
        checks += check(name, model, data, batches[:CHECKED])
        built[name] = (model, data, batches)
    print(f"check: ours vs PyTorch on the same weights, dropout off; first {CHECKED} sentence batches of "
          f"CoNLL-2003 train\n")
    print("| variant | dtype | batches | largest loss difference (relative) | largest gradient error (relative, "
          "parameter) | losses (ours) |")
    print("|---|---|---:|---:|---|---|")
    for c in checks:
        losses = ", ".join(f"{x:.6g}" for x in c["losses"])
        print(f"| {c['variant']} | {c['dtype']} | {c['batches']} | {c['loss']:.1e} | {c['grad']:.1e} ({c['param']}; "
              f"{c['n_params']} parameters compared) | {losses} |")
    print("\nall losses and gradients agree within "
          + ", ".join(f"{d}: {lt:g} (loss), {gt:g} (gradients)" for d, (lt, gt) in TOLERANCES.items()))
    if args.check_only:
        return 0

    from torch_reference import classifier_arrays

    with tempfile.TemporaryDirectory() as tmp:
        paths, ours, tokens = [], [], []
        for k, (model, data, batches) in enumerate(built.values()):
            fresh = {**classifier_arrays(model), "n_batches": np.array(len(batches))}
            for b, batch in enumerate(batches):
                fresh.update({f"{b}/{key}": v for key, v in batch_arrays(data, batch).items()})
            paths.append(Path(tmp) / f"variant{k}.npz")
            np.savez(paths[-1], **fresh)
            ours.append(ours_runner(model, data, batches))
            tokens.append(sum(len(batch) for batch in batches))
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        theirs = TorchProcess(paths, threads)
        try:
            for k in range(len(built)):  # warm-up: optimiser state, allocator pools, thread pools
                ours[k]()
                theirs.run(k)
            times: dict[tuple[int, str], list[float]] = {}
            for r in range(args.repeats):
                for k in range(len(built)):
                    turns = [("ours", ours[k]), ("torch", lambda k=k: theirs.run(k))]
                    for who, run in turns[::-1] if r % 2 else turns:
                        time.sleep(SETTLE)
                        times.setdefault((k, who), []).append(run())
        finally:
            theirs.close()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nmachine: {cpu_model()}, {usable_cores()} usable cores, NumPy {np.__version__} ({blas_name()}, "
          f"{threads} BLAS threads), torch {theirs.info['version']} ({theirs.info['threads']} threads, in a process "
          f"of its own); load average {load_before:.1f} before the timing, {load:.1f} at the end")
    if max(load_before, load) > usable_cores() + 0.5:
        print("warning: other processes were running: thread pools that wait by spinning (PyTorch's OpenMP above "
              "all) lose most on a busy core, so these figures are not a fair comparison; run on a quiet machine "
              "(OPENBLAS_NUM_THREADS=1 gives both sides one thread, which suffers less)")
    print("command: " + thread_settings() + " ".join(["python benchmarks/bench_crf_step.py", *sys.argv[1:]]))
    print(f"timing: full training steps (forward, backward, Adam), median of {args.repeats} passes over "
          f"{args.batches} sentence batches ({tokens[0] / args.batches:.0f} tokens a batch on average), ours and "
          "PyTorch taking turns\n")
    print("| variant | ours ms/step | torch ms/step | torch/ours (ours faster when > 1) | ours tokens/s | "
          "torch tokens/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, name in enumerate(built):
        ours_s, torch_s = (statistics.median(times[(k, who)]) for who in ("ours", "torch"))
        print(f"| {name} | {1e3 * ours_s / args.batches:.2f} | {1e3 * torch_s / args.batches:.2f} | "
              f"{torch_s / ours_s:.2f} | {tokens[k] / ours_s:,.0f} | {tokens[k] / torch_s:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
