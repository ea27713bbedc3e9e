"""Named-entity recognition: CoNLL data, tag schemes, the window classifier, training, evaluation, tagging."""

from window_ner.ner.conll import ConllFormatError, Sentence, load_conll, read_conll, write_conll
from window_ner.ner.decode import argmax_decode, viterbi, viterbi_batch
from window_ner.ner.encoder import EncodedCorpus, Encoder
from window_ner.ner.metrics import Report, binary_scores, evaluate, format_report
from window_ner.ner.model import ModelConfig, WindowClassifier
from window_ner.ner.tagger import Entity, Tagger
from window_ner.ner.tags import TagSchemeError, convert, detect_scheme, spans, validate
from window_ner.ner.tokenize import Token, tokenize
from window_ner.ner.train import TrainConfig, train
from window_ner.ner.vectors import Vectors, VectorsFormatError, load_vectors, vocab_matrix
from window_ner.ner.vocab import Vocab, caps_feature
from window_ner.ner.windows import windows

__all__ = [
    "read_conll", "load_conll", "write_conll", "Sentence", "ConllFormatError",
    "spans", "convert", "detect_scheme", "validate", "TagSchemeError",
    "Vocab", "caps_feature", "load_vectors", "vocab_matrix", "Vectors", "VectorsFormatError",
    "windows", "tokenize", "Token", "Encoder", "EncodedCorpus",
    "ModelConfig", "WindowClassifier", "TrainConfig", "train",
    "evaluate", "format_report", "binary_scores", "Report",
    "argmax_decode", "viterbi", "viterbi_batch", "Tagger", "Entity",
]
