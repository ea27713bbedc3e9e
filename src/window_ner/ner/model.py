"""The window classifier of CS224N's "Neural nets and backpropagation", in the lecture's names.

For each token: the vectors of the window around it are concatenated into x (word vector plus feature
vectors for every position); z = W x + b; h = f(z); then either one score per tag (U h + c, softmax) or,
for the lecture's own binary model, s = u . h and J = sigma(s) ("is the centre word of type T?").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from window_ner import nn
from window_ner.autodiff import Tensor, concat, linear

ACTIVATIONS = ("tanh", "relu", "hardtanh", "sigmoid")


@dataclass
class ModelConfig:
    """Shape of a window classifier; saved with the model."""

    vocab_size: int
    n_tags: int  # 1 for the binary model
    word_dim: int = 50
    window: int = 2  # words each side of the centre word: the window holds 2 * window + 1 words
    features: dict[str, tuple[int, int]] = field(default_factory=lambda: {"caps": (6, 5)})  # name: (ids, dim)
    hidden: tuple[int, ...] = (300,)
    activation: str = "tanh"
    dropout_input: float = 0.0
    dropout_hidden: float = 0.0
    binary: bool = False
    freeze_embeddings: bool = False

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {self.activation!r}")
        if self.window < 0:
            raise ValueError(f"window must be >= 0 words each side, not {self.window}")
        self.hidden = tuple(int(h) for h in self.hidden)
        self.features = {name: (int(n), int(d)) for name, (n, d) in self.features.items()}

    @property
    def width(self) -> int:
        """Number of positions in a window."""
        return 2 * self.window + 1

    @property
    def input_dim(self) -> int:
        """Length of x: every position contributes its word vector and its feature vectors."""
        return self.width * (self.word_dim + sum(dim for _, dim in self.features.values()))

    def to_dict(self) -> dict[str, Any]:
        """The fields, for JSON (tuples become lists there; ``from_dict`` turns them back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**data)  # __post_init__ makes hidden and the feature pairs tuples again


class WindowClassifier(nn.Module):
    """x = [word and feature vectors of the window]; z = W x + b; h = f(z); scores = U h + c (or u . h)."""

    def __init__(self, config: ModelConfig, rng: np.random.Generator, word_vectors: np.ndarray | None = None,
                 dtype: Any = np.float32):
        super().__init__()
        self.config = config
        self.words = nn.Embedding(config.vocab_size, config.word_dim, padding_idx=0, rng=rng, dtype=dtype)
        if word_vectors is not None:
            if word_vectors.shape != (config.vocab_size, config.word_dim):
                raise ValueError(f"word vectors have shape {word_vectors.shape}, the model needs "
                                 f"{(config.vocab_size, config.word_dim)}")
            self.words.weight.data[...] = word_vectors
        self.words.weight.requires_grad = not config.freeze_embeddings
        self.feature_names = sorted(config.features)
        for name in self.feature_names:
            n_ids, dim = config.features[name]
            setattr(self, f"feature_{name}", nn.Embedding(n_ids, dim, rng=rng, dtype=dtype))
        self.input_dropout = nn.Dropout(config.dropout_input, rng=rng)
        self.hidden_dropout = nn.Dropout(config.dropout_hidden, rng=rng)
        fan_in = config.input_dim
        # Hidden layer k is z_k = W_k h_{k-1} + b_k; the first keeps the lecture's plain names W and b.
        self.layer_names = []
        for k, size in enumerate(config.hidden):
            suffix = "" if k == 0 else str(k + 1)
            setattr(self, f"W{suffix}", nn.Parameter(nn.init.xavier_uniform((size, fan_in), rng, dtype=dtype)))
            setattr(self, f"b{suffix}", nn.Parameter(np.zeros(size, dtype=dtype)))
            self.layer_names.append((f"W{suffix}", f"b{suffix}"))
            fan_in = size
        if config.binary:
            self.u = nn.Parameter(nn.init.xavier_uniform((1, fan_in), rng, dtype=dtype)[0])
        else:
            self.U = nn.Parameter(nn.init.xavier_uniform((config.n_tags, fan_in), rng, dtype=dtype))
            self.c = nn.Parameter(np.zeros(config.n_tags, dtype=dtype))

    def window_input(self, word_windows: np.ndarray, feature_windows: dict[str, np.ndarray]) -> Tensor:
        """x: for each window, its words' vectors and features' vectors, concatenated: shape (B, input_dim)."""
        batch = word_windows.shape[0]
        parts = [self.words(word_windows).reshape(batch, -1)]
        for name in self.feature_names:
            parts.append(getattr(self, f"feature_{name}")(feature_windows[name]).reshape(batch, -1))
        return concat(parts, axis=1) if len(parts) > 1 else parts[0]

    def hidden(self, x: Tensor) -> Tensor:
        """h = f(W x + b) for each hidden layer, with dropout on the input and on each h in training."""
        h = self.input_dropout(x)
        for w_name, b_name in self.layer_names:
            z = linear(h, getattr(self, w_name), getattr(self, b_name))
            h = self.hidden_dropout(_activate(z, self.config.activation))
        return h

    def forward(self, word_windows: np.ndarray, feature_windows: dict[str, np.ndarray]) -> Tensor:
        """Scores: (B, n_tags) for the multi-class model, (B,) for the binary s = u . h."""
        h = self.hidden(self.window_input(word_windows, feature_windows))
        if self.config.binary:
            return h @ self.u
        return linear(h, self.U, self.c)


def _activate(z: Tensor, name: str) -> Tensor:
    if name == "tanh":
        return z.tanh()
    if name == "relu":
        return z.relu()
    if name == "hardtanh":
        return z.hardtanh()
    return z.sigmoid()
