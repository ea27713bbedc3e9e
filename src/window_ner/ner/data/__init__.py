"""Data: CoNLL files, tag schemes, labels and scores, the vocabulary, word vectors, windows, the tokenizer."""
