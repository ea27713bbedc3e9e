"""Coverage-guided fuzzing of the readers (issue 18): for any bytes a reader returns a valid result or raises
InputError; any other exception, an invalid result or a hang is a crash.

Targets, one per reader (each also checks what it got back, see the ``check_*`` functions):

  conll           window_ner.ner.data.conll: load_conll strict, ConllReader non-strict, tag_column=None,
                  experiment.load_labelled; a file that reads is written back and must read back the same
  vectors         window_ner.ner.data.vectors.load_vectors: every format, with and without a vocabulary, and
                  the same bytes gzipped (which must read the same)
  tokenize        window_ner.ner.data.tokenize: the bytes as UTF-8 text (bad bytes become lone surrogates)
  model           window_ner.nn.io.load and Tagger.load on the bytes as a .safetensors file; a model that
                  loads must tag a sentence
  model-metadata  the same, with the bytes as the window-ner metadata JSON of a small valid model: mutations
                  reach the config and encoder parsing without first breaking the safetensors framing

Seeds are small valid inputs: slices of the bundled sample corpus, a tiny vectors file in every format and
compression, the fixture models of tests/ner/fixtures and a tiny model built here.

Setup: ``pip install -e ".[fuzz]"`` (or ``pip install atheris``: PyPI has a wheel for CPython 3.11 on x86-64 Linux).
Quick runs (what tests/fuzz/test_atheris.py does, with a few seconds each):

  python tools/fuzz.py conll --seconds 60
  python tools/fuzz.py --all --seconds 60

A real run keeps its corpus between runs and puts crash inputs in a folder (extra libFuzzer flags go
after the options, e.g. -jobs=2 -workers=2 for both cores):

  python tools/fuzz.py model --seconds 3600 --corpus fuzz/corpus/model --crashes fuzz/crashes

A crash prints the Python traceback and writes the input to CRASHES/TARGET-crash-<sha1>; replay one with
``python tools/fuzz.py TARGET --replay FILE``. To hunt for more than the first crash, ``--keep-going`` writes
each distinct crash site once (CRASHES/TARGET-N-<Exception>-<file>-<line>.input and .txt) and fuzzes on.
Do not run with ``python -O``: the checks are asserts.
"""

from __future__ import annotations

import argparse
import atexit
import bz2
import gc
import gzip
import io
import json
import lzma
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import traceback
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from window_ner import nn
from window_ner.errors import InputError
from window_ner.ner.data.conll import ConllReader, Sentence, load_conll, write_conll
from window_ner.ner.data.labels import SchemeLabels
from window_ner.ner.data.tags import SCHEMES
from window_ner.ner.data.tokenize import Token, sentence_spans, split_sentences, tokenize, tokenize_sentence
from window_ner.ner.data.vectors import FORMATS, Vectors, load_vectors
from window_ner.ner.experiment import load_labelled, sample_corpus
from window_ner.ner.inference.tagger import Tagger
from window_ner.ner.model.classifier import ModelConfig, ModelOptions, WindowClassifier
from window_ner.ner.model.encoder import Encoder

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "ner" / "fixtures"
VOCAB = ["the", "Paris", "paris", "1996", "écoute", "<unk>", "THE"]
SAMPLE_TEXT = "Mr. Smith said Paris is in France. U.S. shares rose 6.8 percent in 1996!"


# ----- checks: what a valid result is ---------------------------------------------------------------------

def read_or_refuse(read: Callable[[], Any]) -> Any:
    """``read()``'s result, or None when it raised InputError; any other exception propagates (a crash)."""
    try:
        return read()
    except InputError as error:
        assert str(error), "an InputError without a message"
        return None


def check_sentences(sentences: Sequence[Sentence], labelled: bool) -> None:
    """Sentences as the CoNLL reader promises them: non-empty, one clean field per token and column."""
    assert sentences, "the reader returned no sentences instead of raising"
    width = len(sentences[0].columns)
    previous_line, previous_doc = 0, 0
    for sentence in sentences:
        assert isinstance(sentence, Sentence) and sentence.tokens
        assert (sentence.tags is not None) == labelled
        assert len(sentence.columns) == width, "sentences of one file have different numbers of columns"
        for column in [sentence.tokens, *sentence.columns, *([sentence.tags] if labelled else [])]:
            assert len(column) == len(sentence.tokens)
            for value in column:
                assert isinstance(value, str) and value and value == value.strip(" "), repr(value)
                assert not any(c in value for c in "\t\r\n"), repr(value)
        assert sentence.line > previous_line and sentence.doc >= previous_doc
        previous_line, previous_doc = sentence.line, sentence.doc


def _documents(sentences: Sequence[Sentence]) -> list[int]:
    """Where each new document starts (sentence indices): the partition, whatever the document numbers."""
    return [i for i in range(1, len(sentences)) if sentences[i].doc != sentences[i - 1].doc]


# What write_conll may refuse, because no CoNLL file can hold it (a file that reads can still hold such a token
# where the writer cannot put it, e.g. a byte-order mark that is not at the start of the file).
WRITE_REFUSALS = r"holds a space|byte-order mark|document boundary|holds a tab, line end or NUL|is empty"


def check_conll_rewrite(sentences: list[Sentence], labelled: bool) -> None:
    """Sentences read from a file, written by write_conll, read back the same (tokens, tags, columns, documents),
    or are refused by the writer for a reason in WRITE_REFUSALS."""
    buffer = io.StringIO()
    try:
        write_conll(buffer, sentences, docstart=True)
    except ValueError as error:
        assert re.search(WRITE_REFUSALS, str(error)), error
        return
    path = scratch_file("rewritten.conll", buffer.getvalue().encode())
    again = load_conll(path, tag_column=-1 if labelled else None)
    assert [(s.tokens, s.tags, s.columns) for s in again] == [(s.tokens, s.tags, s.columns) for s in sentences]
    assert _documents(again) == _documents(sentences)


def check_vectors(vectors: Vectors, vocab: Sequence[str] | None) -> None:
    """Vectors as load_vectors promises them: one finite float32 row of dim >= 1 per unique word."""
    assert isinstance(vectors, Vectors)
    matrix = vectors.matrix
    assert isinstance(matrix, np.ndarray) and matrix.ndim == 2 and matrix.dtype == np.float32
    assert matrix.shape[0] == len(vectors.words) and vectors.dim >= 1, f"{matrix.shape} for {len(vectors)} words"
    assert np.isfinite(matrix).all()
    assert all(isinstance(w, str) and w for w in vectors.words) and len(set(vectors.words)) == len(vectors.words)
    assert vectors.format in FORMATS[1:] and vectors.skipped >= 0
    if vocab is not None:
        wanted = set(vocab)
        assert set(vectors.words) <= wanted and vectors.found + vectors.missing == len(wanted)


def check_tokens(text: str, tokens: Sequence[Token]) -> None:
    """Tokens are non-empty, in order, non-overlapping, free of whitespace and point back into ``text``."""
    end = 0
    for token in tokens:
        assert isinstance(token, Token) and token.text, token
        assert end <= token.start < token.end <= len(text), (token, end)
        assert text[token.start:token.end] == token.text, token
        assert not any(c.isspace() for c in token.text), token
        end = token.end
    assert all(c.isspace() for c in text[end:]), "text after the last token is not whitespace"


def check_tokenization(text: str) -> None:
    """Every tokenizer entry point on ``text``: tokens valid, sentences covering them in order."""
    flat = tokenize_sentence(text)
    check_tokens(text, flat)
    covered = "".join(text[a.end:b.start] for a, b in zip(flat, flat[1:], strict=False))
    assert all(c.isspace() for c in text[:flat[0].start] + covered) if flat else not text.strip()
    assert tokenize_sentence(text, offset=5) == [Token(t.text, t.start + 5, t.end + 5) for t in flat]
    sentences = tokenize(text)
    assert [t for s in sentences for t in s] == flat, "the sentences do not hold exactly the tokens"
    spans = sentence_spans(text)
    assert spans == [(s.start, s.end) for s in sentences]
    assert split_sentences(text) == [text[a:b] for a, b in spans]
    end = 0
    for sentence in sentences:
        assert len(sentence) >= 1 and sentence.words == [t.text for t in sentence.tokens]
        assert sentence.start == sentence.tokens[0].start and sentence.end == sentence.tokens[-1].end
        assert end <= sentence.start, "sentences overlap or are out of order"
        end = sentence.end


def check_model_file(tensors: dict[str, np.ndarray], metadata: Any) -> None:
    """What nn.io.load returns: named writeable arrays and a metadata dict."""
    assert isinstance(metadata, dict), f"metadata is a {type(metadata).__name__}, not a dict"
    for name, array in tensors.items():
        assert isinstance(name, str) and isinstance(array, np.ndarray) and array.flags.writeable


def check_tagger(tagger: Tagger) -> None:
    """A model that loaded must tag: entities with offsets into the text and a probability."""
    assert isinstance(tagger, Tagger)
    for entity in tagger(SAMPLE_TEXT):
        assert SAMPLE_TEXT[entity.start:entity.end] == entity.text and entity.text, entity
        assert isinstance(entity.label, str) and entity.label and 0.0 <= entity.score <= 1.0 + 1e-6, entity
    predicted = tagger.predict([["Paris", "is", "in", "France", "."], ["x"]])
    assert [len(tags) for tags in predicted] == [5, 1] and all(isinstance(t, str) for s in predicted for t in s)


# ----- targets: bytes in, InputError or a checked result out ----------------------------------------------

@cache
def scratch() -> Path:
    """A private folder for the files the readers are given (readers take paths, not bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="window-ner-fuzz-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def scratch_file(name: str, data: bytes) -> Path:
    """``data`` written to the file ``name`` of the scratch folder."""
    path = scratch() / name
    path.write_bytes(data)
    return path


def fuzz_conll(data: bytes) -> None:
    path = scratch_file("input.conll", data)
    strict = read_or_refuse(lambda: load_conll(path))
    if strict is not None:
        check_sentences(strict, labelled=True)
        check_conll_rewrite(strict, labelled=True)
    reader = ConllReader(path, strict=False)
    lenient = read_or_refuse(lambda: list(reader))
    if lenient is not None:
        check_sentences(lenient, labelled=True)
        assert (reader.sentences, reader.tokens) == (len(lenient), sum(map(len, lenient)))
        assert reader.skipped_sentences >= 0 and reader.skipped_lines >= len(reader.errors)
    if strict is not None:
        assert lenient == strict, "a file that reads strictly reads differently when lenient"
    unlabelled = read_or_refuse(lambda: load_conll(path, tag_column=None))
    if unlabelled is not None:
        check_sentences(unlabelled, labelled=False)
        check_conll_rewrite(unlabelled, labelled=False)
    labelled = read_or_refuse(lambda: load_labelled(path))
    if labelled is not None:
        check_sentences(labelled[0], labelled=True)
        assert labelled[1] in SCHEMES


def fuzz_vectors(data: bytes) -> None:
    path = scratch_file("input.vec", data)
    for fmt in FORMATS:
        vectors = read_or_refuse(lambda fmt=fmt: load_vectors(path, format=fmt))
        if vectors is not None:
            check_vectors(vectors, None)
    for strict in (True, False):
        vectors = read_or_refuse(lambda strict=strict: load_vectors(path, VOCAB, strict=strict))
        if vectors is not None:
            check_vectors(vectors, VOCAB)
    if data.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")):
        return  # compressed input: gzipped again it is another file
    plain = read_or_refuse(lambda: load_vectors(path))
    packed = read_or_refuse(lambda: load_vectors(scratch_file("input.vec.gz", gzip.compress(data, mtime=0))))
    assert (plain is None) == (packed is None), "gzip changes whether the file reads"
    if plain is not None:
        assert plain.words == packed.words and np.array_equal(plain.matrix, packed.matrix)


def fuzz_tokenize(data: bytes) -> None:
    check_tokenization(data.decode("utf-8", "surrogateescape"))


def fuzz_model(data: bytes) -> None:
    path = scratch_file("model.safetensors", data)
    loaded = read_or_refuse(lambda: nn.io.load(path))
    if loaded is not None:
        check_model_file(*loaded)
    tagger = read_or_refuse(lambda: Tagger.load(path))
    if tagger is not None:
        check_tagger(tagger)


@cache
def _tiny_tensors() -> dict[str, np.ndarray]:
    return nn.io.load(scratch_file("tiny.safetensors", tiny_model()))[0]


def model_with_metadata(metadata_json: str) -> bytes:
    """The tiny model's tensors with ``metadata_json`` as its window-ner metadata (any string)."""
    return safetensors.numpy.save(_tiny_tensors(), metadata={nn.io.METADATA_KEY: metadata_json})


def fuzz_model_metadata(data: bytes) -> None:
    fuzz_model(model_with_metadata(data.decode("utf-8", "replace")))


# ----- seeds ----------------------------------------------------------------------------------------------

def _corpus_slices() -> list[bytes]:
    dev = sample_corpus("dev").read_bytes()
    return [dev[:1500], dev[6000:7000]]


def conll_seeds() -> list[bytes]:
    conll2003 = (b"-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n"
                 b"call NN I-NP O\n. . O O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n")
    tabs = "New York\tB-LOC\nis\tO\n\n\ufeffnot a\tO\r\n".encode()
    return [*_corpus_slices(), conll2003, tabs, b"a O\n\n\nb S-PER\nc E-PER\n"]


def tokenize_seeds() -> list[bytes]:
    texts = [" ".join(s.tokens) for s in load_conll(sample_corpus("dev"))[:6]]
    texts += ["Mr. O'Brien doesn't live at 10 Downing St. in the U.S.-based firm's H.Q. (see http://a.b/c)!",
              '1. Schumacher 2:29.34\n10= Ertl "quoted" ... -- $5 C$ 3/4 +0.05 .500 x@y.zz\n\nNew para.']
    return [t.encode() for t in texts]


def _tiny_vectors() -> tuple[list[str], np.ndarray]:
    words = ["the", "Paris", "1996", "écoute", "THE"]
    return words, (np.arange(15, dtype=np.float32).reshape(5, 3) - 7) / 4


def vectors_seeds() -> list[bytes]:
    words, matrix = _tiny_vectors()
    glove = "".join(f"{w} {' '.join(repr(float(v)) for v in row)}\n" for w, row in zip(words, matrix, strict=True))
    text = f"{len(words)} {matrix.shape[1]}\n" + "".join(
        f"{w} {''.join(f'{float(v)} ' for v in row)}\n" for w, row in zip(words, matrix, strict=True))
    binary = f"{len(words)} {matrix.shape[1]}\n".encode() + b"".join(
        w.encode() + b" " + row.astype("<f4").tobytes() + b"\n" for w, row in zip(words, matrix, strict=True))
    plain = [glove.encode(), text.encode(), binary]
    return plain + [gzip.compress(plain[0], mtime=0), bz2.compress(plain[0]), lzma.compress(plain[0])]


@cache
def tiny_model() -> bytes:
    """A small valid model file of today's format (2.5 kB): a 3-d word window classifier, untrained."""
    tokens = [["Paris", "is", "in", "France", "."], ["Mr.", "Smith", "said", "so", "."]]
    tags = [["B-LOC", "O", "O", "B-LOC", "O"], ["O", "B-PER", "O", "O", "O"]]
    labels = SchemeLabels.fit(tags, "IOB2")
    features = ("caps", "suffix2")
    encoder = Encoder.build(tokens, labels, window=1, feature_names=features)
    options = ModelOptions(word_dim=3, window=1, hidden=(4,), features=features,
                           feature_dims={"caps": 2, "suffix2": 2})
    config = ModelConfig.from_options(options, vocab_size=len(encoder.vocab), feature_sizes=encoder.feature_sizes)
    model = WindowClassifier(config, labels, np.random.default_rng(0))
    return Tagger(model, encoder).save(scratch() / "tiny-model").read_bytes()


def safetensors_header(data: bytes) -> dict[str, Any]:
    """The JSON header of a valid safetensors file."""
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + size])


def with_header(data: bytes, header: Any) -> bytes:
    """A valid file's bytes with its JSON header replaced by ``header`` (the length prefix rewritten)."""
    (size,) = struct.unpack("<Q", data[:8])
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data[8 + size:]


def model_seeds() -> list[bytes]:
    return [tiny_model(), *(p.read_bytes() for p in sorted(FIXTURES.glob("*.safetensors")))]


def model_metadata_seeds() -> list[bytes]:
    metadata = safetensors_header(tiny_model())["__metadata__"][nn.io.METADATA_KEY]
    return [metadata.encode(), json.dumps(json.loads(metadata), indent=1).encode()]


@dataclass(frozen=True)
class Target:
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    max_len: int  # libFuzzer's longest input: a little over the longest seed


TARGETS = {
    "conll": Target(fuzz_conll, conll_seeds, 4096),
    "vectors": Target(fuzz_vectors, vectors_seeds, 4096),
    "tokenize": Target(fuzz_tokenize, tokenize_seeds, 4096),
    "model": Target(fuzz_model, model_seeds, 128 * 1024),
    "model-metadata": Target(fuzz_model_metadata, model_metadata_seeds, 8192),
}


# ----- command line ---------------------------------------------------------------------------------------

def _instrument_window_ner(atheris: Any) -> None:
    """Coverage for window-ner's own code, imported already (this module needs it to check results).

    ``atheris.instrument_all()`` would do every loaded module and takes about 30 s; this takes a second.
    """
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and (obj.__module__ or "").startswith("window_ner"):
            atheris.instrument_func(obj)


def crash_site(error: BaseException) -> str:
    """Where an exception was raised: its type and the innermost window-ner frame (file:line), for triage."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "window_ner" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(error).__name__} at {where}"


def _keep_going(name: str, run: Callable[[bytes], None], crashes: Path) -> Callable[[bytes], None]:
    """``run`` that records each distinct crash site once (input and traceback) and carries on fuzzing."""
    seen: set[str] = set()

    def record(data: bytes) -> None:
        try:
            run(data)
        except Exception as error:  # triage: every crash is written down, none stops the run
            site = crash_site(error)
            if site not in seen:
                seen.add(site)
                stem = f"{crashes}/{name}-{len(seen)}-{site.replace(' at ', '-').replace(':', '-')}"
                Path(f"{stem}.input").write_bytes(data)
                Path(f"{stem}.txt").write_text("".join(traceback.format_exception(error)))
                print(f"\nCRASH {len(seen)}: {site}: {str(error)[:200]!r} ({len(data)} bytes, {stem}.input)",
                      flush=True)

    return record


def _fuzz(name: str, seconds: int, corpus: Path | None, crashes: Path, extra: list[str],
          keep_going: bool = False) -> None:
    """Run atheris on one target; never returns (libFuzzer exits: 0 when time is up, non-zero on a crash)."""
    import atheris  # an optional extra: imported only to fuzz

    target = TARGETS[name]
    if corpus is None:
        corpus = scratch() / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(target.seeds()):
        seed_file = corpus / f"seed-{i}"
        if not seed_file.exists():
            seed_file.write_bytes(seed)
    atheris.enabled_hooks.add("RegEx")  # the tokenizer is regular expressions: steer inputs towards matches
    atheris.enabled_hooks.add("str")
    _instrument_window_ner(atheris)
    flags = [sys.argv[0], f"-max_total_time={seconds}", f"-max_len={target.max_len}", "-timeout=20",
             "-rss_limit_mb=4096", f"-artifact_prefix={crashes}/{name}-", "-print_final_stats=1", *extra,
             str(corpus)]
    print(f"fuzzing {name} for {seconds} s, corpus {corpus}, crashes to {crashes}/{name}-*", flush=True)
    atheris.Setup(flags, _keep_going(name, target.run, crashes) if keep_going else target.run)
    atheris.Fuzz()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", nargs="?", choices=list(TARGETS), help="the reader to fuzz")
    parser.add_argument("--all", action="store_true", help="fuzz every target in turn, --seconds each")
    parser.add_argument("--seconds", type=int, default=60, help="how long to fuzz (each target with --all)")
    parser.add_argument("--corpus", type=Path, help="folder of inputs to start from and grow (default: a "
                        "temporary folder holding the seeds); with --all, one subfolder per target")
    parser.add_argument("--crashes", type=Path, default=Path("."), help="folder for crash inputs (default: .)")
    parser.add_argument("--keep-going", action="store_true", help="record each distinct crash site (input and "
                        "traceback in --crashes) and go on fuzzing instead of stopping at the first")
    parser.add_argument("--replay", type=Path, help="run the target once on this file and report")
    args, extra = parser.parse_known_args(argv)
    if args.replay is not None:
        if args.target is None:
            parser.error("--replay needs a target")
        TARGETS[args.target].run(args.replay.read_bytes())
        print(f"{args.replay}: no crash")
        return 0
    if args.all == (args.target is not None):
        parser.error("give one target or --all")
    if args.target is not None:
        _fuzz(args.target, args.seconds, args.corpus, args.crashes, extra, args.keep_going)  # never returns
    return _fuzz_all(args.seconds, args.corpus, args.crashes, [*extra, *(["--keep-going"] if args.keep_going else [])])


def _fuzz_all(seconds: int, corpus: Path | None, crashes: Path, extra: list[str]) -> int:
    """Each target in its own process (libFuzzer exits when done); 1 when any crashed."""
    failed = []
    for name in TARGETS:
        command = [sys.executable, __file__, name, "--seconds", str(seconds), "--crashes", str(crashes),
                   *(["--corpus", str(corpus / name)] if corpus else []), *extra]
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
    print(f"fuzzed {len(TARGETS)} targets for {seconds} s each; crashed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
