"""Inference: the Tagger (load a model, tag text or tokens, entities with offsets and probabilities)."""
