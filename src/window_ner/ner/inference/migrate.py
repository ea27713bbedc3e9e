"""Model files of window-ner 0.1 (before output heads and the feature registry), upgraded as they load.

That release named its parameters ``W``/``b``, ``W2``/``b2``, ..., ``U``/``c`` (or ``u`` for the binary
model) and ``feature_NAME.weight``, and kept the head as flags (``binary``, ``binary_type``, ``decode``).
The upgrade renames the tensors and rewrites the metadata; nothing is recomputed, so the model tags exactly
as it did.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from window_ner.nn.io import ModelFileError

__all__ = ["FORMAT", "FORMAT_VERSION", "upgrade"]

FORMAT = "window-ner model"
FORMAT_VERSION = 2  # 1: window-ner 0.1's files, which carry no number
_LAYER = re.compile(r"^([Wb])(\d*)$")


def upgrade(tensors: dict[str, np.ndarray], metadata: dict[str, Any],
            path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The tensors and metadata in today's layout (as they are when already current)."""
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a window-ner model (no window-ner metadata)")
    version = metadata.get("format_version", 1)
    if version == FORMAT_VERSION:
        return tensors, metadata
    if version != 1:
        raise ModelFileError(f"{path}: model format {version!r} is newer than this window-ner reads "
                             f"({FORMAT_VERSION}); upgrade window-ner or train the model again")
    return _tensors_v1(tensors), _metadata_v1(metadata)


def _tensors_v1(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    renamed = {}
    for name, value in tensors.items():
        layer = _LAYER.match(name)
        if layer:
            name = f"layers.{int(layer[2] or 1) - 1}.{layer[1]}"
        elif name in ("U", "c", "u"):
            name = f"head.{name}"
        elif name.startswith("feature_"):
            name = "features." + name[len("feature_"):]
        renamed[name] = value
    return renamed


def _metadata_v1(metadata: dict[str, Any]) -> dict[str, Any]:
    model, encoder = dict(metadata["model"]), dict(metadata["encoder"])
    binary_type = encoder.pop("binary_type", None)
    features = model.pop("features")
    model.pop("n_tags")
    model["features"] = list(features)
    model["feature_sizes"] = {name: ids for name, (ids, _) in features.items()}
    model["feature_dims"] = {name: dim for name, (_, dim) in features.items()}
    if model.pop("binary"):
        model["head"], model["head_options"] = "binary", {"type": binary_type}
        encoder["labels"] = {"kind": "type", "type": binary_type}
    else:
        model["head"] = "softmax"
        model["head_options"] = {"scheme": encoder["scheme"], "decode": metadata.get("decode", "viterbi")}
        encoder["labels"] = {"kind": "scheme", "tags": encoder["tags"], "scheme": encoder["scheme"]}
    del encoder["tags"], encoder["scheme"]
    encoder["features"] = {name: _feature_v1(saved) for name, saved in encoder["features"].items()}
    return {**metadata, "format_version": FORMAT_VERSION, "model": model, "encoder": encoder}


def _feature_v1(saved: dict[str, Any]) -> dict[str, Any]:
    if saved.get("type") == "suffix":  # one class for every n then; one registered name per n now
        return {"type": f"suffix{saved['n']}", "keys": saved["keys"]}
    return saved
