"""Named-entity recognition: CoNLL data, tag schemes, the window classifier, training, evaluation, tagging.

Sub-packages by role: ``data`` (files -> tokens, tags, ids), ``model`` (features, encoder, classifier, heads,
decoding), ``training`` (batches, the loop, hooks), ``inference`` (the Tagger); ``experiment`` is the library
API the command line calls.
"""

from window_ner.ner.data.conll import ConllFormatError, Sentence, load_conll, read_conll, write_conll
from window_ner.ner.data.labels import SchemeLabels, Scores, TypeLabels
from window_ner.ner.data.metrics import Report, binary_scores, evaluate, format_report
from window_ner.ner.data.tags import TagSchemeError, convert, detect_scheme, spans, validate
from window_ner.ner.data.tokenize import Token, tokenize
from window_ner.ner.data.vectors import Vectors, VectorsFormatError, load_vectors, vocab_matrix
from window_ner.ner.data.vocab import Vocab
from window_ner.ner.data.windows import windows
from window_ner.ner.experiment import Experiment, run_experiment
from window_ner.ner.inference.tagger import Entity, Tagger
from window_ner.ner.model.classifier import ModelConfig, ModelOptions, WindowClassifier
from window_ner.ner.model.decode import argmax_decode, viterbi, viterbi_batch
from window_ner.ner.model.encoder import EncodedCorpus, Encoder
from window_ner.ner.model.features import FEATURES, caps_feature
from window_ner.ner.model.heads import HEADS, BinaryHead, SoftmaxHead
from window_ner.ner.training.loop import TrainConfig, train

__all__ = [
    "read_conll", "load_conll", "write_conll", "Sentence", "ConllFormatError",
    "spans", "convert", "detect_scheme", "validate", "TagSchemeError", "SchemeLabels", "TypeLabels", "Scores",
    "Vocab", "caps_feature", "FEATURES", "load_vectors", "vocab_matrix", "Vectors", "VectorsFormatError",
    "windows", "tokenize", "Token", "Encoder", "EncodedCorpus",
    "ModelConfig", "ModelOptions", "WindowClassifier", "HEADS", "SoftmaxHead", "BinaryHead",
    "TrainConfig", "train", "Experiment", "run_experiment",
    "evaluate", "format_report", "binary_scores", "Report",
    "argmax_decode", "viterbi", "viterbi_batch", "Tagger", "Entity",
]
