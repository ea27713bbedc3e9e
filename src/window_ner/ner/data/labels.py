"""What a model predicts: its tag set, the training targets made from gold tags, the tags it hands out,
and how its predictions are scored. Entity labels (the tags of a scheme, scored as conlleval counts them) and
the lecture's yes/no label ("is the centre word of type T?", scored token by token) are the two kinds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from window_ner.errors import InputError
from window_ner.ner.data import metrics
from window_ner.ner.data import tags as tagging
from window_ner.registry import Registry

__all__ = ["LABELS", "Labels", "SchemeLabels", "TypeLabels", "Scores", "OUTPUT_SCHEME", "labels_from_dict"]

OUTPUT_SCHEME = "IOB2"  # tags handed to users and written to files
_IOB2_PREFIX = {"B": "B", "I": "I", "E": "I", "S": "B"}  # IOB2 and IOBES tags, the schemes models predict in


@dataclass
class Scores:
    """Entity-level (conlleval) scores, or token-level ones for a yes/no label."""

    entity: metrics.Report | None = None
    binary: tuple[float, float, float] | None = None
    label: str = ""

    def summary(self) -> dict[str, float]:
        """precision, recall, F1 (and token accuracy for entities), as fractions."""
        if self.binary is not None:
            p, r, f1 = self.binary
            return {"precision": p, "recall": r, "f1": f1}
        assert self.entity is not None
        return {"precision": self.entity.precision, "recall": self.entity.recall, "f1": self.entity.f1,
                "accuracy": self.entity.accuracy}

    def text(self) -> str:
        """The scores as conlleval prints them (or one line for a yes/no label)."""
        if self.binary is not None:
            p, r, f1 = self.binary
            return (f"token-level, is the centre word {self.label}?  precision: {100 * p:6.2f}%; "
                    f"recall: {100 * r:6.2f}%; F1: {100 * f1:6.2f}")
        assert self.entity is not None
        return metrics.format_report(self.entity)


class Labels:
    """The tags a model predicts (``tags``, in ``scheme``) and what goes with them."""

    kind = ""
    tags: list[str]
    scheme: str  # the scheme of ``tags``
    output_scheme: str  # the scheme of the tags handed to users

    def targets(self, gold: Sequence[Sequence[str]], gold_scheme: str | None) -> np.ndarray:
        """Target ids (int64, one per token) from gold tags of ``gold_scheme``."""
        raise NotImplementedError

    def output_tags(self, ids_are_valid: bool) -> list[str]:
        """Each tag id's output tag, when every decoded sequence is valid (else output is converted)."""
        raise NotImplementedError

    def converts_output(self, ids_are_valid: bool) -> bool:
        """Whether decoded sentences need :meth:`to_output` (argmax output may be invalid)."""
        return False

    def to_output(self, tags: list[str]) -> list[str]:
        """One sentence's decoded tags rewritten in :attr:`output_scheme`."""
        return tags

    def in_gold_style(self, predicted: list[list[str]], gold: Sequence[Sequence[str]],
                      gold_scheme: str | None = None) -> list[list[str]]:
        """Output tags rewritten in the scheme and style of the gold tags (IOB1 for the CoNLL-2003 files;
        bare types like ``LOC`` where the gold file has them). Entity scores do not depend on it, but token
        accuracy and the written predictions do: conlleval compares tags as strings."""
        gold_scheme = gold_scheme or tagging.detect_scheme(gold)
        if gold_scheme != self.output_scheme:
            predicted = [tagging.convert(p, self.output_scheme, gold_scheme) for p in predicted]
        if gold_scheme == "IO" and any("-" not in tag for s in gold for tag in s if tag != "O"):
            predicted = [[tagging.tag_type(tag) if tag != "O" else tag for tag in p] for p in predicted]
        return predicted

    def score(self, gold: Sequence[Sequence[str]], predicted: list[list[str]]) -> Scores:
        """Compare predictions with gold tags."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Labels) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]


LABELS: Registry[type[Labels]] = Registry("label kind")


@LABELS.register("scheme")
class SchemeLabels(Labels):
    """Entity tags of a scheme (IOBES by default: it lets constrained Viterbi help most)."""

    kind = "scheme"
    output_scheme = OUTPUT_SCHEME

    def __init__(self, tags: Sequence[str], scheme: str):
        self.tags = list(tags)
        self.scheme = tagging.normalize_scheme(scheme)
        self._index = {tag: i for i, tag in enumerate(self.tags)}

    @classmethod
    def fit(cls, train_tags: Sequence[Sequence[str]], gold_scheme: str, scheme: str = "IOBES") -> SchemeLabels:
        """Every tag of ``scheme`` for the entity types of the training tags."""
        converted = [tagging.convert(list(s), gold_scheme, scheme) for s in train_tags]
        types = sorted({tagging.tag_type(tag) for s in converted for tag in s} - {"O"})
        return cls(tagging.tag_set(types, scheme), scheme)

    def targets(self, gold: Sequence[Sequence[str]], gold_scheme: str | None) -> np.ndarray:
        out = []
        for sentence in gold:
            converted = tagging.convert(list(sentence), gold_scheme, self.scheme) if gold_scheme else sentence
            for tag in converted:
                if tag not in self._index:
                    raise InputError(f"tag {tag!r} was not seen in the training data (model tags: "
                                     f"{', '.join(self.tags)})")
                out.append(self._index[tag])
        return np.asarray(out, dtype=np.int64)

    def output_tags(self, ids_are_valid: bool) -> list[str]:
        if not self.converts_output(ids_are_valid):  # one IOB2 form per tag: E- -> I-, S- -> B-
            return [_IOB2_PREFIX[t[0]] + t[1:] if t != "O" else t for t in self.tags]
        return list(self.tags)

    def converts_output(self, ids_are_valid: bool) -> bool:
        # valid IOB2 or IOBES sequences can be read tag by tag; anything else is converted span by span
        return not (ids_are_valid and self.scheme in ("IOB2", "IOBES"))

    def to_output(self, tags: list[str]) -> list[str]:
        return tagging.convert(tags, self.scheme, OUTPUT_SCHEME)

    def score(self, gold: Sequence[Sequence[str]], predicted: list[list[str]]) -> Scores:
        return Scores(entity=metrics.evaluate(gold, predicted))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tags": self.tags, "scheme": self.scheme}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SchemeLabels:
        """The labels saved by :meth:`to_dict`: the full tag set of their types, in its order, or an error."""
        tags, scheme = data["tags"], data["scheme"]
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise InputError(f"the saved tag list is not a list of strings: {tags!r:.80}")
        types = {tagging.tag_type(tag) for tag in tags} - {"O"}
        expected = tagging.tag_set(types, scheme)
        if tags != expected:
            odd = sorted(set(tags) ^ set(expected)) or sorted({t for t in tags if tags.count(t) > 1})
            how = f"it differs in {', '.join(odd)}" if odd else "it holds them in another order"
            raise InputError(f"the saved tag list is not the {tagging.normalize_scheme(scheme)} tag set of its "
                             f"types {', '.join(sorted(types))}, in order and each once: {how}")
        return cls(tags, scheme)


@LABELS.register("type")
class TypeLabels(Labels):
    """The lecture's yes/no question "is the centre word of type T?": tags ``O`` and ``T``, read as IO tags
    (a run of ``T`` is one entity), scored by token-level precision, recall and F1 of ``T``."""

    kind = "type"
    scheme = output_scheme = "IO"

    def __init__(self, type: str):  # noqa: A002 (the entity type)
        if not isinstance(type, str) or not type or type == "O":
            raise InputError(f"the yes/no type must be an entity type such as LOC, not {type!r}")
        self.type = type
        self.tags = ["O", type]

    @classmethod
    def fit(cls, train_tags: Sequence[Sequence[str]], type: str, source: str = "the training data") -> TypeLabels:  # noqa: A002
        """The label for ``type``, refused unless it is an entity type of the training tags."""
        types = sorted({tagging.tag_type(t) for s in train_tags for t in s} - {"O"})
        if type not in types:
            raise InputError(f"the binary type {type!r} is not an entity type of {source}: its types are "
                             f"{', '.join(types)}")
        return cls(type)

    def targets(self, gold: Sequence[Sequence[str]], gold_scheme: str | None) -> np.ndarray:
        return np.fromiter((tagging.tag_type(tag) == self.type for sentence in gold for tag in sentence),
                           dtype=np.int64)

    def output_tags(self, ids_are_valid: bool) -> list[str]:
        return list(self.tags)

    def score(self, gold: Sequence[Sequence[str]], predicted: list[list[str]]) -> Scores:
        is_type = self._is_type
        return Scores(binary=metrics.binary_scores(is_type(gold), is_type(predicted)), label=self.type)

    def _is_type(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        return np.fromiter((tagging.tag_type(t) == self.type for s in sentences for t in s), dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "type": self.type}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TypeLabels:
        return cls(data["type"])


def labels_from_dict(data: dict[str, Any]) -> Labels:
    """The labels saved by their ``to_dict()``."""
    return LABELS.get(data.get("kind")).from_dict(data)  # type: ignore[attr-defined]
