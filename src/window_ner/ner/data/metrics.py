"""Entity-level precision/recall/F1 exactly as CoNLL's conlleval counts them, plus token-level scores.

A predicted entity is correct when a gold entity has the same start, end and type. Spans are read with
``tags.spans`` (conlleval's chunk rules), sentence by sentence: conlleval reads a whole file as one
sequence with every sentence break an ``O``, which gives the same spans. Accuracy counts every token,
``O`` included, whose predicted tag string equals the gold one. Scores are fractions in [0, 1];
``format_report`` prints them as percentages in conlleval's layout.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from window_ner.ner.data.tags import spans, tag_type

__all__ = ["Confusion", "Report", "TypeScores", "binary_scores", "evaluate", "format_report", "prf"]


def prf(n_correct: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts; a score with a zero denominator is 0, as in conlleval."""
    precision = n_correct / n_pred if n_pred > 0 else 0.0
    recall = n_correct / n_gold if n_gold > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


@dataclass(frozen=True)
class TypeScores:
    """Scores of one entity type: fractions, and the counts they come from."""

    precision: float
    recall: float
    f1: float
    n_gold: int  # entities of this type in the gold data (the support)
    n_pred: int  # entities of this type predicted ("found" in conlleval)
    n_correct: int

    @classmethod
    def from_counts(cls, n_correct: int, n_pred: int, n_gold: int) -> TypeScores:
        """Scores computed from the three counts."""
        return cls(*prf(n_correct, n_pred, n_gold), n_gold=n_gold, n_pred=n_pred, n_correct=n_correct)

    @property
    def support(self) -> int:
        """Number of gold entities of this type."""
        return self.n_gold

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "n_gold": self.n_gold, "n_pred": self.n_pred, "n_correct": self.n_correct}


@dataclass(frozen=True)
class Confusion:
    """Token-level confusion of entity types: ``matrix[i, j]`` = tokens of gold type i predicted as type j."""

    labels: list[str]  # "O" first, then the entity types sorted
    matrix: np.ndarray  # (n_labels, n_labels) int64, rows gold, columns predicted

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"labels": list(self.labels), "matrix": self.matrix.tolist()}


@dataclass(frozen=True)
class Report:
    """Entity-level scores overall and per type, token accuracy and the type confusion matrix."""

    precision: float
    recall: float
    f1: float
    accuracy: float
    n_tokens: int
    n_gold: int
    n_pred: int
    n_correct: int
    n_correct_tags: int
    per_type: dict[str, TypeScores] = field(default_factory=dict)
    confusion: Confusion = field(default_factory=lambda: Confusion(["O"], np.zeros((1, 1), np.int64)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (fractions, counts, per-type scores, confusion matrix)."""
        return {
            "precision": self.precision, "recall": self.recall, "f1": self.f1, "accuracy": self.accuracy,
            "n_tokens": self.n_tokens, "n_gold": self.n_gold, "n_pred": self.n_pred,
            "n_correct": self.n_correct, "n_correct_tags": self.n_correct_tags,
            "per_type": {kind: scores.to_dict() for kind, scores in self.per_type.items()},
            "confusion": self.confusion.to_dict(),
        }


def _check_lengths(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sentences but the predictions have {len(pred)}; "
                         "pass one predicted tag list per gold sentence")
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if isinstance(g, str) or isinstance(p, str):
            raise TypeError(f"sentence {i} is a string; pass lists of sentences, each a list of tags")
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted tags; "
                             "every token needs exactly one predicted tag")


def evaluate(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Report:
    """Compare predicted with gold tag sequences (any scheme conlleval reads, e.g. IOB1 or IOB2)."""
    _check_lengths(gold, pred)
    found_gold: Counter[str] = Counter()
    found_pred: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    n_tokens = n_correct_tags = 0
    for g_tags, p_tags in zip(gold, pred, strict=True):
        g_spans = spans(g_tags)
        p_spans = spans(p_tags)
        found_gold.update(kind for _, _, kind in g_spans)
        found_pred.update(kind for _, _, kind in p_spans)
        # Spans of one sequence never overlap, so a set intersection counts each match once.
        correct.update(kind for _, _, kind in set(g_spans).intersection(p_spans))
        n_tokens += len(g_tags)
        n_correct_tags += sum(g == p for g, p in zip(g_tags, p_tags, strict=True))
        pairs.update(zip(map(tag_type, g_tags), map(tag_type, p_tags), strict=True))

    kinds = sorted(set(found_gold) | set(found_pred))
    per_type = {kind: TypeScores.from_counts(correct[kind], found_pred[kind], found_gold[kind])
                for kind in kinds}
    n_gold, n_pred, n_correct = sum(found_gold.values()), sum(found_pred.values()), sum(correct.values())
    precision, recall, f1 = prf(n_correct, n_pred, n_gold)

    labels = ["O"] + sorted({label for pair in pairs for label in pair} - {"O"})
    position = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for (g_label, p_label), count in pairs.items():
        matrix[position[g_label], position[p_label]] = count

    return Report(precision=precision, recall=recall, f1=f1,
                  accuracy=n_correct_tags / n_tokens if n_tokens else 0.0,
                  n_tokens=n_tokens, n_gold=n_gold, n_pred=n_pred, n_correct=n_correct,
                  n_correct_tags=n_correct_tags, per_type=per_type, confusion=Confusion(labels, matrix))


def _percentages(n_correct: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    """Percentages computed in conlleval's order of operations, so that rounding agrees to the last digit."""
    precision = 100 * n_correct / n_pred if n_pred > 0 else 0.0
    recall = 100 * n_correct / n_gold if n_gold > 0 else 0.0
    fb1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, fb1


def format_report(report: Report) -> str:
    """The report as conlleval prints it (overall lines, then one line per type), without a final newline."""
    lines = [f"processed {report.n_tokens} tokens with {report.n_gold} phrases; "
             f"found: {report.n_pred} phrases; correct: {report.n_correct}."]
    if report.n_tokens > 0:  # conlleval prints no score line for empty input
        precision, recall, fb1 = _percentages(report.n_correct, report.n_pred, report.n_gold)
        accuracy = 100 * report.n_correct_tags / report.n_tokens
        lines.append(f"accuracy: {accuracy:6.2f}%; precision: {precision:6.2f}%; "
                     f"recall: {recall:6.2f}%; FB1: {fb1:6.2f}")
    for kind, scores in report.per_type.items():
        precision, recall, fb1 = _percentages(scores.n_correct, scores.n_pred, scores.n_gold)
        lines.append(f"{kind:>17}: precision: {precision:6.2f}%; recall: {recall:6.2f}%; "
                     f"FB1: {fb1:6.2f}  {scores.n_pred}")
    return "\n".join(lines)


def binary_scores(gold: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Token-level precision, recall and F1 of a yes/no classifier (True = the positive class)."""
    gold = np.asarray(gold)
    pred = np.asarray(pred)
    if gold.shape != pred.shape:
        raise ValueError(f"gold has shape {gold.shape} but pred has shape {pred.shape}; "
                         "give one prediction per gold label")
    gold = gold.astype(bool)
    pred = pred.astype(bool)
    true_pos = int(np.count_nonzero(gold & pred))
    return prf(true_pos, int(np.count_nonzero(pred)), int(np.count_nonzero(gold)))
