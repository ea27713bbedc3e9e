"""The model: feature extractors, the encoder, the window classifier, its output heads and decoding."""
