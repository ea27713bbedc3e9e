"""Pictures of a training run and of an evaluation: learning curves, a confusion matrix of entity types, and
per-type precision, recall and F1 bars, each written as PNG and SVG.

Needs the optional extra: ``pip install "window-ner[plot]"`` (matplotlib). matplotlib is imported on first
use, not with this module, and only through its Agg canvas: no window opens and pyplot's global state (a
notebook's backend, its open figures) is left alone.

From the command line::

    window-ner plot runs/glove                 # into runs/glove/plots/
    window-ner evaluate --model runs/glove --data test.txt --plots plots/

or from Python::

    from window_ner import plot
    plot.plot_run("runs/glove")                # the paths written
    gold, predicted = plot.read_predictions("runs/glove/test.predictions.conll")
    plot.entity_confusion(gold, predicted).matrix
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from window_ner.errors import InputError
from window_ner.files import open_atomic
from window_ner.ner.data import metrics
from window_ner.ner.data import tags as tagging
from window_ner.ner.data.conll import load_conll
from window_ner.ner.inference.tagger import MODEL_FILE, Tagger

__all__ = ["EXTRA_MESSAGE", "FORMATS", "SpanConfusion", "asked_types", "entity_confusion", "plot_confusion",
           "plot_learning_curves", "plot_per_type", "plot_run", "plot_scores", "read_metrics",
           "read_predictions", "require_matplotlib"]

EXTRA_MESSAGE = 'plotting needs the plot extra: pip install "window-ner[plot]" (matplotlib)'
FORMATS = ("png", "svg")
DPI = 150  # PNG: sharp on a laptop screen, a few hundred kB at most
SPLITS = ("dev", "test")  # the predictions a training run writes: {split}.predictions.conll
MISSED, SPURIOUS = "missed", "spurious"
COLOURS = {"precision": "#4C72B0", "recall": "#DD8452", "f1": "#55A868", "loss": "#C44E52", "lr": "#8172B3"}


def require_matplotlib() -> Any:
    """The matplotlib module, or an InputError naming the extra that installs it."""
    try:
        import matplotlib
        from matplotlib.backends import backend_agg  # noqa: F401 (fails here, not half-way through a figure)
    except ImportError:
        raise InputError(EXTRA_MESSAGE) from None
    return matplotlib


# ----------------------------------------------------------------------------- reading a run

def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The epochs of a ``metrics.jsonl`` (a run folder or the file itself), one dictionary each."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise InputError(f"{path}: not found: give the folder a training run wrote (window-ner train --out DIR), "
                         "which holds metrics.jsonl")
    epochs = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number}: not a JSON line ({error.msg}); is it a metrics.jsonl that "
                                 "window-ner train wrote?") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("epoch"), int):
                raise InputError(f"{path}:{number}: expected an object with an integer \"epoch\", as window-ner "
                                 "train writes one per epoch")
            epochs.append(entry)
    if not epochs:
        raise InputError(f"{path}: holds no epoch yet: plot the run once its first epoch has ended")
    return epochs


def read_predictions(path: str | Path) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and predicted tags of a predictions file (``token [columns] gold predicted``, as ``train`` and
    ``evaluate --output`` write it), one list per sentence each."""
    path = Path(path)
    sentences = load_conll(path, tag_column=-1, tag_check=tagging.check_tag)
    gold, predicted = [], []
    for sentence in sentences:
        if not sentence.columns:
            raise InputError(f"{path}:{sentence.line}: a predictions file has a gold and a predicted tag column "
                             "after the token; this line has only one tag")
        try:
            for tag in set(sentence.columns[-1]):
                tagging.check_tag(tag)
        except ValueError as error:
            raise InputError(f"{path}:{sentence.line}: gold column: {error}") from None
        gold.append(sentence.columns[-1])
        predicted.append(sentence.tags or [])
    return gold, predicted


# ----------------------------------------------------------------------------- the confusion of entity types

@dataclass(frozen=True)
class SpanConfusion:
    """Entity spans of gold type i predicted as type j: an entity is matched when a predicted one has its start
    and end (conlleval's rule for a correct entity, whatever the type), so the diagonal counts correct entities.

    ``matrix`` has one row per type and a last row ``spurious`` (predicted entities with no gold entity at their
    span), one column per type and a last column ``missed`` (gold entities with no predicted entity at their
    span); its corner is 0. Row sums are the gold entities of each type, column sums the predicted ones.
    """

    types: list[str]
    matrix: np.ndarray  # (len(types) + 1, len(types) + 1) int64

    @property
    def rows(self) -> list[str]:
        return [*self.types, SPURIOUS]

    @property
    def columns(self) -> list[str]:
        return [*self.types, MISSED]

    def count(self, gold: str, predicted: str) -> int:
        """The cell of gold type ``gold`` (or ``spurious``) and predicted type ``predicted`` (or ``missed``)."""
        return int(self.matrix[self.rows.index(gold), self.columns.index(predicted)])


def entity_confusion(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> SpanConfusion:
    """Gold entity types against predicted ones, span by span (any scheme conlleval reads)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted; pass one tag list each")
    pairs: list[tuple[str, str]] = []
    for g_tags, p_tags in zip(gold, predicted, strict=True):
        g_spans = {(start, end): kind for start, end, kind in tagging.spans(g_tags)}
        p_spans = {(start, end): kind for start, end, kind in tagging.spans(p_tags)}
        pairs.extend((kind, p_spans.get(span, MISSED)) for span, kind in g_spans.items())
        pairs.extend((SPURIOUS, kind) for span, kind in p_spans.items() if span not in g_spans)
    types = sorted({kind for pair in pairs for kind in pair} - {MISSED, SPURIOUS})
    rows = {kind: i for i, kind in enumerate([*types, SPURIOUS])}
    columns = {kind: i for i, kind in enumerate([*types, MISSED])}
    matrix = np.zeros((len(types) + 1, len(types) + 1), dtype=np.int64)
    for g_kind, p_kind in pairs:
        matrix[rows[g_kind], columns[p_kind]] += 1
    return SpanConfusion(types, matrix)


# ----------------------------------------------------------------------------- figures

def _figure(width: float, height: float) -> Any:
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, stem: Path, formats: Sequence[str]) -> list[Path]:
    """Write ``figure`` as ``stem.<format>`` for each format, each file all or nothing; returns the paths."""
    written = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        metadata = {"Date": None} if fmt == "svg" else None  # no time stamp: a redrawn picture diffs as its content
        with open_atomic(path, "wb") as handle:
            figure.savefig(handle, format=fmt, dpi=DPI, metadata=metadata)
        written.append(path)
    return written


def _title(figure: Any, what: str, name: str) -> None:
    figure.suptitle(f"{what} — {name}" if name else what, fontsize=13, fontweight="bold")


def plot_learning_curves(epochs: Sequence[dict[str, Any]], stem: str | Path, name: str = "",
                         formats: Sequence[str] = FORMATS) -> list[Path]:
    """Train loss, dev precision/recall/F1 and learning rate per epoch (``read_metrics``' entries) side by side,
    the best epoch marked; written to ``stem.png`` and ``stem.svg``."""
    x = [entry["epoch"] for entry in epochs]
    best = [entry["epoch"] for entry in epochs if entry.get("best")]
    has_dev = any(isinstance(entry.get("dev"), dict) for entry in epochs)
    panels = 3 if has_dev else 2
    figure = _figure(4.6 * panels, 4.0)
    from matplotlib.ticker import MaxNLocator  # after _figure, which names the extra when matplotlib is missing

    axes = figure.subplots(1, panels, sharex=True)
    marker = "o" if len(x) <= 30 else None

    loss_axes, lr_axes = axes[0], axes[-1]
    loss_axes.plot(x, [entry.get("train_loss", math.nan) for entry in epochs], marker=marker,
                   color=COLOURS["loss"])
    loss_axes.set(title="training loss", ylabel="mean loss per token")

    if has_dev:
        dev_axes = axes[1]
        for key, label in (("precision", "precision"), ("recall", "recall"), ("f1", "F1")):
            values = [100 * (entry.get("dev") or {}).get(key, math.nan) for entry in epochs]
            dev_axes.plot(x, values, marker=marker, color=COLOURS[key], label=label,
                          linewidth=2.2 if key == "f1" else 1.4)
        title = "dev scores"
        if best:
            f1 = 100 * (epochs[x.index(best[-1])].get("dev") or {}).get("f1", math.nan)
            dev_axes.plot([best[-1]], [f1], marker="*", markersize=15, color=COLOURS["f1"], markeredgecolor="black",
                          linestyle="none", label=f"best (epoch {best[-1]})", zorder=3)
            title = f"dev scores (best F1 {f1:.2f}, epoch {best[-1]})"
        dev_axes.set(title=title, ylabel="%")
        dev_axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4, frameon=False, fontsize=9,
                        handletextpad=0.4, columnspacing=1.0)  # below the axes: never over a curve

    rates = [entry.get("lr", math.nan) for entry in epochs]
    lr_axes.plot(x, rates, marker=marker, color=COLOURS["lr"])
    lr_axes.set(title="learning rate", ylabel="learning rate")
    finite = [rate for rate in rates if math.isfinite(rate)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 20:  # decays over decades: a log axis shows it
        lr_axes.set_yscale("log")
    else:
        lr_axes.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    if finite and max(finite) == min(finite):  # a constant rate: no offset axis of 1e-3 +- nothing
        lr_axes.set_ylim(0, 2 * finite[0] or 1)
        lr_axes.text(0.5, 0.6, f"constant {finite[0]:g}", transform=lr_axes.transAxes, ha="center", color="0.3")

    for ax in axes:
        ax.set_xlabel("epoch")
        if len(x) <= 12:  # every epoch its tick; a single one needs room on both sides
            ax.set_xticks(x)
            if len(x) == 1:
                ax.set_xlim(x[0] - 1, x[0] + 1)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if best:
            ax.axvline(best[-1], color="0.5", linestyle=":", linewidth=1)
    _title(figure, "Learning curves", name)
    return _save(figure, Path(stem), formats)


def plot_confusion(confusion: SpanConfusion, stem: str | Path, name: str = "",
                   formats: Sequence[str] = FORMATS, note: str = "") -> list[Path]:
    """The confusion matrix of entity types as a grid of counts, each cell shaded by its share of its row, with
    ``note`` under the title; written to ``stem.png`` and ``stem.svg``."""
    rows, columns, matrix = confusion.rows, confusion.columns, confusion.matrix
    size = len(rows)
    figure = _figure(max(6.0, 1.0 * size + 3.0), max(4.0, 0.8 * size + 2.2))
    ax = figure.subplots()
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    shares[-1, -1] = np.nan  # the corner (no gold, no prediction) is not a count
    colours = require_matplotlib().colormaps["Blues"].with_extremes(bad="0.92")
    image = ax.imshow(np.ma.masked_invalid(shares), cmap=colours, vmin=0, vmax=1, aspect="auto")
    for i in range(size):
        for j in range(size):
            if i == size - 1 and j == size - 1:
                ax.text(j, i, "–", ha="center", va="center", color="0.5")
                continue
            count = int(matrix[i, j])
            colour = "white" if shares[i, j] > 0.5 else ("0.15" if count else "0.6")
            ax.text(j, i, f"{count:,}", ha="center", va="center", color=colour, fontsize=11,
                    fontweight="bold" if i == j and i < size - 1 else "normal")
    ax.set_xticks(range(size), [*columns[:-1], f"{MISSED}\n(no prediction)"])
    gold_labels = [f"{kind}  ({int(total):,})" for kind, total in zip(confusion.types, totals[:-1, 0], strict=True)]
    ax.set_yticks(range(size), [*gold_labels, f"{SPURIOUS}\n(no gold entity)"])
    ax.set_xlabel("predicted type", fontsize=11)
    ax.set_ylabel("gold type  (entities)", fontsize=11)
    ax.tick_params(length=0)
    ax.axhline(size - 1.5, color="0.4", linewidth=1)  # set the "spurious" row and the "missed" column apart
    ax.axvline(size - 1.5, color="0.4", linewidth=1)
    colour_bar = figure.colorbar(image, ax=ax, shrink=0.8)
    colour_bar.set_label("share of the row")
    ax.set_title("entities matched by span; the diagonal is correct" + (f"\n{note}" if note else ""), fontsize=10,
                 color="0.3")
    _title(figure, "Entity types, gold vs predicted", name)
    return _save(figure, Path(stem), formats)


def plot_per_type(report: metrics.Report, stem: str | Path, name: str = "",
                  formats: Sequence[str] = FORMATS, note: str = "") -> list[Path]:
    """Precision, recall and F1 of each entity type and overall (a conlleval ``Report``) as grouped bars, with
    ``note`` under the title; written to ``stem.png`` and ``stem.svg``."""
    kinds = list(report.per_type)
    overall = len(kinds) != 1  # of one type, "overall" would repeat its bars
    groups = [*kinds, "overall"] if overall else kinds
    scores = [report.per_type[kind] for kind in kinds] + ([report] if overall else [])
    supports = [report.per_type[kind].n_gold for kind in kinds] + ([report.n_gold] if overall else [])
    figure = _figure(max(6.0, 1.5 * len(groups) + 2.0), 4.6)
    ax = figure.subplots()
    width = 0.26
    for offset, key, label in ((-width, "precision", "precision"), (0.0, "recall", "recall"), (width, "f1", "F1")):
        values = [100 * getattr(score, key) for score in scores]
        bars = ax.bar(np.arange(len(groups)) + offset, values, width, label=label, color=COLOURS[key])
        ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
    ax.set_xticks(range(len(groups)), [f"{kind}\n({n:,} gold)" for kind, n in zip(groups, supports, strict=True)])
    if overall and len(groups) > 1:
        ax.axvline(len(groups) - 1.5, color="0.6", linewidth=1, linestyle=":")
    pad = max(0.0, (3 - len(groups)) / 2)  # one or two groups keep the bar width of three
    ax.set_xlim(-0.5 - pad, len(groups) - 0.5 + pad)
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("%")
    ax.set_xlabel("entity type")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper center", ncol=3, frameon=False, bbox_to_anchor=(0.5, 1.0))
    ax.set_title(f"entity level, as conlleval counts: {report.n_correct:,} correct of {report.n_gold:,} gold, "
                 f"{report.n_pred:,} predicted" + (f"\n{note}" if note else ""), fontsize=10, color="0.3")
    _title(figure, "Scores per entity type", name)
    return _save(figure, Path(stem), formats)


def plot_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], out_dir: str | Path,
                prefix: str, name: str = "", formats: Sequence[str] = FORMATS,
                types: Collection[str] | None = None) -> list[Path]:
    """The confusion matrix and the per-type bars of one labelled set, as ``out_dir/prefix-confusion.*`` and
    ``out_dir/prefix-per-type.*``; returns the paths written.

    ``types``: the only entity types the model asks about (a yes/no model's one type); gold entities of other
    types are left out rather than counted as missed."""
    out = _folder(out_dir)
    note = ""
    if types is not None:
        gold = [[tag if tagging.tag_type(tag) in types else "O" for tag in sentence] for sentence in gold]
        note = f"a yes/no model of {', '.join(sorted(types))}: gold entities of other types left out"
    report = metrics.evaluate(gold, predicted)
    return (plot_confusion(entity_confusion(gold, predicted), out / f"{prefix}-confusion", name, formats, note)
            + plot_per_type(report, out / f"{prefix}-per-type", name, formats, note))


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Every picture of a training run's folder: learning curves from metrics.jsonl, and the confusion matrix
    and per-type bars of each predictions file it holds (dev, test), into ``out_dir`` (by default
    ``run_dir/plots``); returns the paths written."""
    require_matplotlib()
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "not a folder" if run_dir.exists() else "no such folder"
        raise InputError(f"{run_dir}: {what}: give the folder a training run wrote (window-ner train --out DIR)")
    epochs = read_metrics(run_dir)
    predictions = {split: read_predictions(run_dir / f"{split}.predictions.conll") for split in SPLITS
                   if (run_dir / f"{split}.predictions.conll").is_file()}
    types = asked_types(run_dir) if predictions else None
    out = _folder(run_dir / "plots" if out_dir is None else out_dir)
    name = run_dir.resolve().name
    written = plot_learning_curves(epochs, out / "learning-curves", name, formats)
    for split, (gold, predicted) in predictions.items():
        written += plot_scores(gold, predicted, out, split, f"{name}, {split}", formats, types)
    return written


def asked_types(model: str | Path | Tagger) -> set[str] | None:
    """The one entity type a yes/no model (``--binary TYPE``) asks about, as a set; None for a model of every
    type, or a run folder without its model file."""
    if not isinstance(model, Tagger):
        if Path(model).is_dir() and not (Path(model) / MODEL_FILE).is_file():
            return None
        model = Tagger.load(model)
    labels = model.encoder.labels
    return {labels.type} if labels.kind == "type" else None  # type: ignore[attr-defined]


def _folder(path: str | Path) -> Path:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: is a file; plots go into a folder: give another name")
    path.mkdir(parents=True, exist_ok=True)
    return path
