"""tools/fuzz.py imported as a module: its checks say what a valid result is, for the property tests too."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FUZZ_TOOL = Path(__file__).resolve().parents[2] / "tools" / "fuzz.py"


def load_fuzz_tool() -> ModuleType:
    """tools/fuzz.py as the module ``window_ner_fuzz`` (loaded once; it does not need atheris to import)."""
    if "window_ner_fuzz" in sys.modules:
        return sys.modules["window_ner_fuzz"]
    spec = importlib.util.spec_from_file_location("window_ner_fuzz", FUZZ_TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules["window_ner_fuzz"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
