"""The window classifier of CS224N's "Neural nets and backpropagation", in the lecture's names.

For each token: the vectors of the window around it are concatenated into x (word vector plus feature
vectors for every position); z = W x + b; h = f(z) (one or more hidden layers); then an output head turns
h into scores: one per tag (U h + c, softmax), or the lecture's binary s = u . h with J = sigma(s).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from window_ner import nn
from window_ner.autodiff import Tensor, concat
from window_ner.errors import InputError
from window_ner.memory import format_bytes
from window_ner.ner.data.labels import Labels
from window_ner.ner.model.features import FEATURES
from window_ner.ner.model.heads import HEADS, Head

__all__ = ["ModelOptions", "ModelConfig", "WindowClassifier"]

EVAL_CHUNK = 8192  # windows scored at once when tagging (the inference layer's CHUNK, which reads it here)


@dataclass
class ModelOptions:
    """The choices that shape a window classifier (its sizes from the data are added in ModelConfig)."""

    word_dim: int = 50  # word vector size without pretrained vectors (else the vectors' size)
    window: int = 2  # words each side of the centre word: the window holds 2 * window + 1 words
    hidden: tuple[int, ...] = (300,)
    activation: str = "tanh"
    dropout_input: float = 0.2  # on x
    dropout_hidden: float = 0.5  # on each h
    freeze_embeddings: bool = False
    features: tuple[str, ...] = ("caps",)
    feature_dims: dict[str, int] = field(default_factory=dict)  # vector size per feature (else its default)

    def __post_init__(self) -> None:
        nn.ACTIVATIONS.get(self.activation)  # an unknown name lists the choices
        for name in self.features:
            FEATURES.get(name)
        twice = sorted({name for name in self.features if list(self.features).count(name) > 1})
        if twice:
            raise InputError(f"the feature {twice[0]!r} is given twice in features (--features); give each once")
        self.hidden = tuple(int(h) for h in self.hidden)
        self.features = tuple(self.features)
        if self.window < 0:
            raise InputError(f"window must be >= 0 words each side, not {self.window}")
        if self.word_dim < 1 or any(size < 1 for size in self.hidden):
            raise InputError(f"word_dim and hidden sizes must be at least 1, not {self.word_dim} and {self.hidden}")
        for name in ("dropout_input", "dropout_hidden"):
            if not 0 <= getattr(self, name) < 1:
                raise InputError(f"{name} must be in [0, 1), not {getattr(self, name)}")

    def feature_dim(self, name: str) -> int:
        """The vector size of feature ``name``."""
        return int(self.feature_dims.get(name, FEATURES.get(name).default_dim))

    def parameter_count(self, vocab_size: int, feature_sizes: dict[str, int], n_tags: int) -> int:
        """Numbers in the model: embedding tables, then W and b of each layer, then the head's u (or U)."""
        sizes = [(2 * self.window + 1) * (self.word_dim + sum(self.feature_dim(n) for n in self.features)),
                 *self.hidden, n_tags]
        tables = vocab_size * self.word_dim + sum(feature_sizes.get(n, 0) * self.feature_dim(n) for n in self.features)
        return tables + sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))

    def training_bytes(self, vocab_size: int, feature_sizes: dict[str, int], n_tags: int, batch_size: int) -> int:
        """About the memory training takes: float32 parameters with their gradients and Adam's two moments,
        plus the activations of a batch (or of a chunk of windows at evaluation, whichever is larger)."""
        rows = max(batch_size, EVAL_CHUNK)
        width = (2 * self.window + 1) * (self.word_dim + sum(self.feature_dim(n) for n in self.features))
        activations = rows * (width + 2 * sum(self.hidden) + n_tags) * 3  # values, dropout masks, gradients
        return 4 * (4 * self.parameter_count(vocab_size, feature_sizes, n_tags) + activations)

    def check_fits(self, vocab_size: int, feature_sizes: dict[str, int], n_tags: int, batch_size: int,
                   available: int | None) -> None:
        """Refuse, naming the size options, a model that cannot be trained in ``available`` bytes."""
        needed = self.training_bytes(vocab_size, feature_sizes, n_tags, batch_size)
        if available is None or needed <= available:
            return
        params = self.parameter_count(vocab_size, feature_sizes, n_tags)
        hidden = " ".join(map(str, self.hidden))
        vocab = f" and a vocabulary of {vocab_size:,} words" if vocab_size else ""
        raise InputError(f"this model would need about {format_bytes(needed)} of memory to train ({params:,} "
                         f"parameters from --hidden {hidden}, --window {self.window}, --word-dim {self.word_dim}"
                         f"{vocab}; batches of --batch-size {batch_size}), but only {format_bytes(available)} is "
                         "available: choose smaller sizes")


@dataclass(kw_only=True)
class ModelConfig(ModelOptions):
    """Shape of a window classifier: the options plus the sizes the data gave; saved with the model."""

    vocab_size: int
    feature_sizes: dict[str, int] = field(default_factory=dict)  # ids per feature, padding included
    head: str = "softmax"
    head_options: Any = None  # the head's Options (its defaults when None)

    def __post_init__(self) -> None:
        super().__post_init__()
        head = HEADS.get(self.head)
        if self.head_options is None:
            self.head_options = head.Options()
        elif isinstance(self.head_options, dict):
            self.head_options = head.Options(**self.head_options)
        if set(self.feature_sizes) != set(self.features):
            raise InputError(f"feature sizes {sorted(self.feature_sizes)} do not match the features "
                             f"{sorted(self.features)}")

    @classmethod
    def from_options(cls, options: ModelOptions, **sizes: Any) -> ModelConfig:
        """The options with the data's sizes (vocab_size, feature_sizes; word_dim when vectors set it)."""
        return cls(**{**{f.name: getattr(options, f.name) for f in fields(ModelOptions)}, **sizes})

    @property
    def width(self) -> int:
        """Number of positions in a window."""
        return 2 * self.window + 1

    @property
    def input_dim(self) -> int:
        """Length of x: every position contributes its word vector and its feature vectors."""
        return self.width * (self.word_dim + sum(self.feature_dim(name) for name in self.features))

    def to_dict(self) -> dict[str, Any]:
        """The fields, for JSON (tuples become lists there; ``from_dict`` turns them back)."""
        return {**asdict(self), "head_options": asdict(self.head_options)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """The config saved by :meth:`to_dict`."""
        return cls(**data)


class WindowClassifier(nn.Module):
    """x = [word and feature vectors of the window]; h = f(W x + b) per hidden layer; scores = head(h)."""

    def __init__(self, config: ModelConfig, labels: Labels, rng: np.random.Generator,
                 word_vectors: np.ndarray | None = None, dtype: Any = np.float32):
        super().__init__()
        self.config = config
        self.words = nn.Embedding(config.vocab_size, config.word_dim, padding_idx=0, rng=rng, dtype=dtype)
        if word_vectors is not None:
            if word_vectors.shape != (config.vocab_size, config.word_dim):
                raise InputError(f"word vectors have shape {word_vectors.shape}, the model needs "
                                 f"{(config.vocab_size, config.word_dim)}")
            self.words.weight.data[...] = word_vectors
        self.words.weight.requires_grad = not config.freeze_embeddings
        # sorted: the parameters (and the random draws that start them) do not depend on the option's order
        self.features = {name: FEATURES.get(name).module(config.feature_sizes[name], config.feature_dim(name),
                                                         rng, dtype)
                         for name in sorted(config.features)}
        self.input_dropout = nn.Dropout(config.dropout_input, rng=rng)
        self.hidden_dropout = nn.Dropout(config.dropout_hidden, rng=rng)
        self.activation = nn.ACTIVATIONS.get(config.activation)()
        sizes = [config.input_dim, *config.hidden]
        # hidden layer k is z_k = W_k h_{k-1} + b_k
        self.layers = nn.ModuleList([nn.Linear(a, b, rng=rng, dtype=dtype)
                                     for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        self.head: Head = HEADS.get(config.head)(sizes[-1], labels, config.head_options, rng, dtype)

    def window_parts(self, word_windows: np.ndarray, feature_windows: dict[str, np.ndarray]) -> list[Tensor]:
        """The blocks of x, in order: the window's word vectors (B, width * word_dim), then each feature's
        vectors (B, width * its size), features sorted by name; each block is position by position."""
        parts = [self.words(word_windows).reshape(word_windows.shape[0], -1)]
        parts.extend(module(feature_windows[name]) for name, module in self.features.items())
        return parts

    def window_input(self, word_windows: np.ndarray, feature_windows: dict[str, np.ndarray]) -> Tensor:
        """x: for each window, its words' vectors and features' vectors, concatenated: shape (B, input_dim)."""
        parts = self.window_parts(word_windows, feature_windows)
        return concat(parts, axis=1) if len(parts) > 1 else parts[0]

    def hidden(self, x: Tensor) -> Tensor:
        """h = f(W x + b) for each hidden layer, with dropout on the input and on each h in training."""
        h = self.input_dropout(x)
        for layer in self.layers:
            h = self.hidden_dropout(self.activation(layer(h)))
        return h

    def forward(self, word_windows: np.ndarray, feature_windows: dict[str, np.ndarray]) -> Tensor:
        """The head's scores for each window: (B, n_tags) for softmax, (B,) for the binary s = u . h."""
        return self.head(self.hidden(self.window_input(word_windows, feature_windows)))
