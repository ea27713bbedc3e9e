"""The window classifier in PyTorch, for speed comparisons only (torch is an optional benchmark dependency).

Same models as window_ner.ner.model.WindowClassifier:

- :class:`TorchWindow`: word and capitalisation embeddings of a window, concatenated, dropout, tanh hidden
  layer, dropout, linear scores, softmax cross-entropy, Adam (:func:`make_step`).
- :class:`TorchWindowCRF`: word and feature embeddings of a window (id features such as caps as a table,
  the chars feature as :class:`TorchChars`), dropout, tanh hidden layers, emissions ``U h + c`` and the
  linear-chain CRF loss of :class:`TorchCRF`, batched over padded sentences; its weights come from one of our
  models (:func:`classifier_arrays`, :meth:`TorchWindowCRF.from_arrays`); :func:`make_crf_step` trains it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


class TorchWindow(nn.Module):
    """x = [E[w_i-2..w_i+2]; C[caps]], h = tanh(W x + b), scores = U h + c."""

    def __init__(self, vectors: np.ndarray, n_caps: int, caps_dim: int, width: int, hidden: int, n_tags: int,
                 sparse: bool, dropout_input: float, dropout_hidden: float, padding_idx: int | None = None):
        super().__init__()
        self.words = nn.Embedding(*vectors.shape, padding_idx=padding_idx, sparse=sparse)
        self.words.weight.data.copy_(torch.from_numpy(vectors))
        self.caps = nn.Embedding(n_caps, caps_dim, padding_idx=padding_idx, sparse=sparse)
        self.hidden = nn.Linear(width * (vectors.shape[1] + caps_dim), hidden)
        self.out = nn.Linear(hidden, n_tags)
        self.drop_in = nn.Dropout(dropout_input)
        self.drop_hidden = nn.Dropout(dropout_hidden)

    def forward(self, words: torch.Tensor, caps: torch.Tensor) -> torch.Tensor:
        batch = words.shape[0]
        x = torch.cat([self.words(words).reshape(batch, -1), self.caps(caps).reshape(batch, -1)], dim=1)
        h = self.drop_hidden(torch.tanh(self.hidden(self.drop_in(x))))
        return self.out(h)


def make_step(model: TorchWindow, sparse: bool, lr: float = 1e-3):
    """One optimiser step per call: dense Adam for everything, or SparseAdam for the embeddings."""
    if sparse:
        embed = [model.words.weight, model.caps.weight]
        dense = [p for n, p in model.named_parameters() if not n.startswith(("words", "caps"))]
        optimizers = [torch.optim.SparseAdam(embed, lr=lr), torch.optim.Adam(dense, lr=lr)]
    else:
        optimizers = [torch.optim.Adam(model.parameters(), lr=lr)]
    loss_fn = nn.CrossEntropyLoss()

    def step(words: torch.Tensor, caps: torch.Tensor, targets: torch.Tensor) -> float:
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(words, caps), targets)
        loss.backward()
        for opt in optimizers:
            opt.step()
        return loss.item()

    return step


# ----------------------------------------------------------------------------- CRF head and character CNN

class TorchCRF(nn.Module):
    """Linear-chain CRF loss over padded sentences, as window_ner.ner.model.crf.nll computes it: per sentence
    log Z (forward algorithm, logsumexp) minus the gold path's score, start and end scores included, moves the
    scheme forbids -inf in log Z only (the gold path is scored with the raw scores), mean over sentences."""

    def __init__(self, n_tags: int, allowed: np.ndarray, allowed_start: np.ndarray, allowed_end: np.ndarray):
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(n_tags, n_tags))  # [i, j]: from tag i to tag j
        self.start = nn.Parameter(torch.zeros(n_tags))
        self.end = nn.Parameter(torch.zeros(n_tags))
        for name, mask in (("allowed", allowed), ("allowed_start", allowed_start), ("allowed_end", allowed_end)):
            self.register_buffer(name, torch.from_numpy(np.asarray(mask, dtype=bool).copy()))

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z per sentence (S,) of emissions (S, L, T) whose real positions are ``mask`` (S, L), a prefix."""
        transitions = self.transitions.masked_fill(~self.allowed, -torch.inf)
        alpha = self.start.masked_fill(~self.allowed_start, -torch.inf) + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t:t + 1], step, alpha)  # a finished sentence keeps its last alpha
        return torch.logsumexp(alpha + self.end.masked_fill(~self.allowed_end, -torch.inf), dim=1)

    def path_scores(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """s(y) per sentence (S,) of the tag ids ``tags`` (S, L) (anything in padding), raw scores."""
        unary = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)
        moves = self.transitions[tags[:, :-1], tags[:, 1:]]
        zero = emissions.new_zeros(())
        last = tags.gather(1, (mask.sum(dim=1, keepdim=True) - 1)).squeeze(1)
        return (torch.where(mask, unary, zero).sum(dim=1) + torch.where(mask[:, 1:], moves, zero).sum(dim=1)
                + self.start[tags[:, 0]] + self.end[last])

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over sentences of log Z - s(gold): emissions (S, L, T), tags (S, L), mask (S, L) bool."""
        return (self.log_partition(emissions, mask) - self.path_scores(emissions, tags, mask)).mean()


class TorchChars(nn.Module):
    """The chars feature (window_ner.ner.model.chars.CharCNN): character ids (B, width, k) -> (B, width *
    n_filters); per distinct word, tanh of each filter's max over the positions where it lies inside the word
    (begin and end markers included; a word shorter than a filter, e.g. an all-padding word beyond a sentence
    edge, keeps position 0). Character id 0 is padding (a zero row that gets no gradient)."""

    def __init__(self, n_chars: int, char_dim: int, n_filters: int, filter_width: int, sparse: bool = True):
        super().__init__()
        self.filter_width = filter_width
        self.chars = nn.Embedding(n_chars, char_dim, padding_idx=0, sparse=sparse)
        self.conv = nn.Conv1d(char_dim, n_filters, filter_width)

    def words(self, char_ids: torch.Tensor) -> torch.Tensor:
        """One vector per row of character ids (n, k): (n, n_filters)."""
        lengths = (char_ids != 0).sum(dim=1)
        longest = max(int(lengths.max()), self.filter_width)
        responses = self.conv(self.chars(char_ids[:, :longest]).transpose(1, 2))  # (n, n_filters, steps)
        steps = torch.arange(longest - self.filter_width + 1)
        inside = steps < torch.clamp(lengths - self.filter_width + 1, min=1).unsqueeze(1)  # (n, steps)
        return torch.tanh(responses.masked_fill(~inside.unsqueeze(1), -torch.inf).max(dim=2).values)

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        batch, width, k = char_ids.shape
        distinct, occurrence = torch.unique(char_ids.reshape(-1, k), dim=0, return_inverse=True)
        return self.words(distinct)[occurrence].reshape(batch, -1)


def classifier_arrays(model: Any) -> dict[str, np.ndarray]:
    """The weights of one of our WindowClassifier models with a crf head, as NumPy arrays under the names
    :meth:`TorchWindowCRF.from_arrays` reads (a plain dict: it can travel in an .npz to another process).
    Features keep our order (sorted by name), which is the order of their blocks in x."""
    config = model.config
    if config.activation != "tanh" or not hasattr(model.head, "transitions"):
        raise ValueError("TorchWindowCRF mirrors a tanh model with a crf head")
    arrays = {"words": model.words.weight.data, "features": np.array(list(model.features)),
              "dropout": np.array([config.dropout_input, config.dropout_hidden]),
              "n_hidden": np.array(len(model.layers))}
    for name, module in model.features.items():
        if hasattr(module, "conv"):  # the chars feature's CharCNN
            arrays[f"chars:{name}:embedding"] = module.chars.weight.data
            arrays[f"chars:{name}:W"] = module.conv.W.data
            arrays[f"chars:{name}:b"] = module.conv.b.data
        else:  # an id feature: one vector per id, no padding row
            arrays[f"ids:{name}"] = module.weight.data
    for k, layer in enumerate(model.layers):
        arrays[f"hidden.{k}.W"], arrays[f"hidden.{k}.b"] = layer.W.data, layer.b.data
    head = model.head
    arrays.update({"out.W": head.U.data, "out.b": head.c.data, "crf.transitions": head.transitions.data,
                   "crf.start": head.start.data, "crf.end": head.end.data, "crf.allowed": head.allowed,
                   "crf.allowed_start": head.allowed_start, "crf.allowed_end": head.allowed_end})
    return arrays


class TorchWindowCRF(nn.Module):
    """x = [word vectors; feature vectors] of the window, h = tanh(W x + b) per hidden layer (dropout on x and
    on each h), emissions U h + c, loss :class:`TorchCRF` over the batch's sentences."""

    def __init__(self, word_shape: tuple[int, int], features: dict[str, tuple], hidden: list[tuple[int, int]],
                 n_tags: int, allowed: tuple[np.ndarray, np.ndarray, np.ndarray], dropout: tuple[float, float],
                 sparse: bool = True):
        """``features``: name -> ("ids", n_ids, dim) or ("chars", n_chars, char_dim, n_filters, filter_width),
        in x's order; ``hidden``: (fan_in, fan_out) per layer."""
        super().__init__()
        self.words = nn.Embedding(*word_shape, padding_idx=0, sparse=sparse)
        self.features = nn.ModuleDict()
        for name, (kind, *sizes) in features.items():
            self.features[name] = (TorchChars(*sizes, sparse=sparse) if kind == "chars"
                                   else nn.Embedding(*sizes, sparse=sparse))
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in hidden])
        self.out = nn.Linear(hidden[-1][1], n_tags)
        self.crf = TorchCRF(n_tags, *allowed)
        self.drop_in, self.drop_hidden = nn.Dropout(dropout[0]), nn.Dropout(dropout[1])

    @classmethod
    def from_arrays(cls, arrays: Any, sparse: bool = True) -> TorchWindowCRF:
        """The model holding the weights of :func:`classifier_arrays` (a dict or a loaded .npz), float32 as
        ours are (``.double()`` for float64)."""
        features: dict[str, tuple] = {}
        weights: dict[str, np.ndarray] = {"words.weight": arrays["words"]}
        for name in (str(n) for n in arrays["features"]):
            if f"ids:{name}" in arrays:
                table = arrays[f"ids:{name}"]
                features[name] = ("ids", *table.shape)
                weights[f"features.{name}.weight"] = table
            else:
                table, W, b = (arrays[f"chars:{name}:{part}"] for part in ("embedding", "W", "b"))  # noqa: N806
                char_dim = table.shape[1]
                width = W.shape[1] // char_dim
                features[name] = ("chars", table.shape[0], char_dim, W.shape[0], width)
                weights[f"features.{name}.chars.weight"] = table
                # ours: W[f, j * char_dim + c] multiplies character c of window position j; Conv1d: [f, c, j]
                weights[f"features.{name}.conv.weight"] = W.reshape(W.shape[0], width, char_dim).transpose(0, 2, 1)
                weights[f"features.{name}.conv.bias"] = b
        hidden = []
        for k in range(int(arrays["n_hidden"])):
            W = arrays[f"hidden.{k}.W"]  # noqa: N806 (the lecture's name)
            hidden.append((W.shape[1], W.shape[0]))
            weights[f"layers.{k}.weight"], weights[f"layers.{k}.bias"] = W, arrays[f"hidden.{k}.b"]
        weights.update({"out.weight": arrays["out.W"], "out.bias": arrays["out.b"],
                        "crf.transitions": arrays["crf.transitions"], "crf.start": arrays["crf.start"],
                        "crf.end": arrays["crf.end"]})
        allowed = tuple(arrays[f"crf.{name}"] for name in ("allowed", "allowed_start", "allowed_end"))
        dropout = tuple(float(p) for p in arrays["dropout"])
        model = cls(arrays["words"].shape, features, hidden, arrays["out.W"].shape[0], allowed, dropout, sparse)
        model.load_weights(weights)
        return model

    def load_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Copy NumPy arrays into the parameters of those names; every parameter must be given."""
        params = dict(self.named_parameters())
        missing = set(params) ^ set(weights)
        if missing:
            raise KeyError(f"weights and parameters differ: {sorted(missing)}")
        with torch.no_grad():
            for name, value in weights.items():
                params[name].copy_(torch.from_numpy(np.ascontiguousarray(value)))

    def emissions(self, words: torch.Tensor, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """U h + c per window (N, n_tags): words (N, width), features name -> (N, width[, k]) ids."""
        batch = words.shape[0]
        parts = [self.words(words).reshape(batch, -1)]
        for name, module in self.features.items():
            parts.append(module(features[name]).reshape(batch, -1))
        h = self.drop_in(torch.cat(parts, dim=1))
        for layer in self.layers:
            h = self.drop_hidden(torch.tanh(layer(h)))
        return self.out(h)

    def forward(self, words: torch.Tensor, features: dict[str, torch.Tensor], mask: torch.Tensor,
                tags: torch.Tensor) -> torch.Tensor:
        """The CRF loss of a batch of whole sentences: the windows of their tokens sentence by sentence (as
        ``padded[mask]`` lays them out), mask (S, L) bool, tags (N,) gold tag ids."""
        emissions = self.emissions(words, features)
        padded = emissions.new_zeros((*mask.shape, emissions.shape[1]))
        padded[mask] = emissions
        padded_tags = tags.new_zeros(mask.shape)
        padded_tags[mask] = tags
        return self.crf(padded, padded_tags, mask)


def make_crf_step(model: TorchWindowCRF, lr: float = 1e-3):
    """One training step per call (forward, backward, optimiser): SparseAdam for sparse embedding tables (as
    our lazy Adam on their touched rows), Adam for the rest; no gradient clipping."""
    sparse = [m.weight for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse]
    ids = {id(p) for p in sparse}
    dense = [p for p in model.parameters() if id(p) not in ids]
    optimizers = [torch.optim.Adam(dense, lr=lr)] + ([torch.optim.SparseAdam(sparse, lr=lr)] if sparse else [])

    def step(words: torch.Tensor, features: dict[str, torch.Tensor], mask: torch.Tensor, tags: torch.Tensor) -> float:
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss = model(words, features, mask, tags)
        loss.backward()
        for opt in optimizers:
            opt.step()
        return loss.item()

    return step
