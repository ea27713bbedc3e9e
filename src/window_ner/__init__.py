"""window-ner: a window-based named-entity tagger trained by its own reverse-mode autodiff engine."""

__version__ = "0.1.0"
