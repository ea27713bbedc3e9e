"""Shared fixtures: the real CoNLL-2003 corpus and GloVe vectors live in ../shared/data when present."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _require(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs {path} (the shared CoNLL-2003/GloVe data beside the project); not found")
    return path


@pytest.fixture(scope="session")
def conll2003_dir() -> Path:
    """Folder holding train.txt, dev.txt, test.txt (original IOB1 CoNLL-2003 English)."""
    return _require("conll2003")


@pytest.fixture(scope="session")
def glove_path() -> Path:
    """The shared GloVe 6B 50d subset (gzip text)."""
    return _require("glove/glove.6B.50d.conll+top100k.txt.gz")
