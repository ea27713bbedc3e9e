"""The window classifier in PyTorch, for speed comparisons only (torch is an optional benchmark dependency).

Same model as window_ner.ner.model.WindowClassifier: word and capitalisation embeddings of a window,
concatenated, dropout, tanh hidden layer, dropout, linear scores, softmax cross-entropy, Adam.
"""

from __future__ import annotations

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
