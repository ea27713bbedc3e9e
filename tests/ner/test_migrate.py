"""Model files written by window-ner 0.1 (before output heads) load and tag exactly as they did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from window_ner import nn
from window_ner.ner.inference.tagger import Tagger

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "v0.1.0-expected.json").read_text())


@pytest.mark.parametrize("name", ["softmax", "binary"])
def test_a_model_file_of_release_0_1_loads_and_tags_as_it_did(name: str, tmp_path: Path) -> None:
    tagger = Tagger.load(FIXTURES / f"v0.1.0-{name}.safetensors")
    assert tagger.model.config.head == name
    assert tagger.model.config.features == ("caps", "suffix2")
    tokens = EXPECTED["tokens"]
    assert tagger.predict(tokens) == EXPECTED[name]["tags"]
    np.testing.assert_allclose(tagger.log_probs(tagger.encoder.encode(tokens)),
                               np.array(EXPECTED[name]["log_probs"]), atol=2e-5)
    # saved again, it is written in today's layout and reads back the same
    again = Tagger.load(tagger.save(tmp_path / "again"))
    assert again.predict(tokens) == EXPECTED[name]["tags"]
    names = set(nn.io.load(tmp_path / "again" / "model.safetensors")[0])
    assert {"layers.0.W", "layers.1.W", "features.suffix2.weight"} <= names
    assert ("head.U" if name == "softmax" else "head.u") in names


def test_a_model_file_of_a_newer_format_is_refused_with_what_to_do(tmp_path: Path) -> None:
    tensors, metadata = nn.io.load(FIXTURES / "v0.1.0-softmax.safetensors")
    nn.io.save(tmp_path / "model.safetensors", tensors, {**metadata, "format_version": 99})
    with pytest.raises(nn.io.ModelFileError, match="newer than this window-ner reads.*upgrade window-ner"):
        Tagger.load(tmp_path)
