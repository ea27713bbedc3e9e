"""Layers: Linear (z = W x + b), Embedding (row-sparse gradient), Dropout, activations, Sequential."""

from __future__ import annotations

from typing import Any

import numpy as np

from window_ner.autodiff import Tensor, embedding, linear
from window_ner.nn import init
from window_ner.nn.module import Module, ModuleList, Parameter
from window_ner.registry import Registry

__all__ = ["Linear", "Embedding", "Dropout", "Tanh", "ReLU", "HardTanh", "Sigmoid", "Sequential", "ACTIVATIONS"]

# f in h = f(z), by name: configs and the command line choose from here
ACTIVATIONS: Registry[type[Module]] = Registry("activation")


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator as given, or a new one from a seed (None: fresh OS entropy, not reproducible)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class Linear(Module):
    """The lecture's z = W x + b with W of shape (out, in); on a batch of rows x (B, in): x W^T + b.

    ``W`` is Glorot-uniform, ``b`` zero. The engine's fused ``linear`` makes it one graph node whose
    gradients (delta x^T for W, delta for b) arrive contiguous.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float32):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.W = Parameter(init.xavier_uniform((out_features, in_features), _generator(rng), dtype=dtype))
        self.b = Parameter(init.zeros(out_features, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """x W^T + b for x of shape (..., in_features)."""
        return linear(x, self.W, self.b)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.b is not None}"


class Embedding(Module):
    """A lookup table ``weight`` (num_embeddings, embedding_dim): ids -> rows, with a row-sparse gradient.

    ``weight`` starts N(0, std^2), N(0, 1) by default (as torch). The ``padding_idx`` row starts at zero, and
    its occurrences pass no gradient (the row is left out of the gradient), so no optimiser moves it (except
    weight decay on a dense gradient, if you make that row non-zero yourself).
    ``sparse=False`` gives a dense (num x dim) gradient instead (slower: for comparison).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float32, sparse: bool = True,
                 std: float = 1.0):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"padding_idx {padding_idx} is outside the table of {num_embeddings} rows")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        self.sparse = bool(sparse)
        weight = init.normal((num_embeddings, embedding_dim), _generator(rng), std=std, dtype=dtype)
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.weight = Parameter(weight)

    def forward(self, ids: Any) -> Tensor:
        """Rows of ``weight`` for integer ``ids``: shape ids.shape + (embedding_dim,)."""
        return embedding(self.weight, ids, sparse=self.sparse, padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}, sparse={self.sparse}"


class Dropout(Module):
    """Inverted dropout: in training, zero each entry with probability p and scale the rest by 1/(1-p).

    In eval mode (or with p = 0) it is the identity. Masks come from the module's own Generator, so a seeded
    run draws the same masks.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), not {p}")
        self.p = float(p)
        self.rng = _generator(rng)

    def forward(self, x: Tensor) -> Tensor:
        """x * mask / (1 - p) in training; x unchanged in eval mode."""
        if not self.training or self.p == 0.0:
            return x
        # 16 random bits per entry, kept when >= p * 2^16: p is exact to 2^-16. The bits come as whole 64-bit
        # words (four entries each), the same bits Generator.bytes gives but without its 32-bit draws and two
        # copies (docs/benchmarks.md has the timings).
        words = self.rng.integers(0, 2**64 - 1, size=-(-x.size // 4), dtype=np.uint64, endpoint=True)
        bits = words.view(np.uint16)[: x.size].reshape(x.shape)
        # kept entries carry 1/(1-p), so the expected value is unchanged
        threshold = np.uint16(min(round(self.p * 65536), 65535))  # from p each time: p may be changed
        mask = np.multiply(bits >= threshold, 1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


@ACTIVATIONS.register("tanh")
class Tanh(Module):
    """Elementwise tanh."""

    def forward(self, x: Tensor) -> Tensor:
        """tanh(x)."""
        return x.tanh()


@ACTIVATIONS.register("relu")
class ReLU(Module):
    """Elementwise max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        """max(x, 0)."""
        return x.relu()


@ACTIVATIONS.register("hardtanh")
class HardTanh(Module):
    """The lecture's hard tanh: x clipped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        super().__init__()
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x: Tensor) -> Tensor:
        """clip(x, min_val, max_val)."""
        return x.hardtanh(self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


@ACTIVATIONS.register("sigmoid")
class Sigmoid(Module):
    """Elementwise logistic sigma(x) = 1 / (1 + e^-x)."""

    def forward(self, x: Tensor) -> Tensor:
        """sigma(x)."""
        return x.sigmoid()


class Sequential(ModuleList):
    """Modules applied in order; parameters are named by position ("0.W", "2.b", ...)."""

    def __init__(self, *modules: Module):
        super().__init__(modules)

    def forward(self, x: Any) -> Any:
        """Each module applied to the previous one's output."""
        for module in self:
            x = module(x)
        return x
