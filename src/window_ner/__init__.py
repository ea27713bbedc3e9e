"""window-ner: a window-based named-entity tagger trained by its own reverse-mode autodiff engine.

``window_ner.autodiff`` (the engine), ``window_ner.nn`` (modules, losses, optimisers) and
``window_ner.ner`` (data, model, training, tagging) are each usable alone; ``window_ner.Tagger`` is the
shortcut most users want.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Tagger", "Entity", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `import window_ner.autodiff` stays free of the NER layer.
    if name in ("Tagger", "Entity"):
        from window_ner.ner.inference import tagger

        return getattr(tagger, name)
    raise AttributeError(f"module 'window_ner' has no attribute {name!r}")
