"""The lecture's binary model, "is the centre word a location?": J = sigma(s) with s = u . h, h = f(W x + b),
trained with the library API the ``window-ner train --binary LOC`` command calls, and its learning curves
(training loss, dev token-level precision / recall / F1, learning rate) drawn into a PNG.

It trains on CoNLL-2003 when the folder given by --data holds conll2003/{train,dev,test}.txt (by default
../shared/data beside the project, if it is there), with the GloVe vectors of glove/*.txt.gz when present;
otherwise, or with --sample, on the small corpus bundled with window-ner (a few seconds an epoch).

Run (needs the plot extra: pip install "window-ner[plot]"):

    python examples/binary_loc.py                        # CoNLL-2003 if found, else the sample corpus
    python examples/binary_loc.py --sample --epochs 5 --out /tmp/binary-loc
    python examples/binary_loc.py --data /path/to/data --epochs 10

It prints the dev (and test) scores and the path of the picture, OUT/binary-loc-curves.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from window_ner import plot
from window_ner.ner.experiment import Experiment, run_experiment, sample_corpus
from window_ner.ner.model.heads import BinaryHead
from window_ner.ner.training.loop import TrainConfig

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TYPE = "LOC"


def splits(data: Path | None) -> tuple[dict[str, Path], Path | None, str]:
    """The train/dev/test files, the word vectors (or None) and a name for the corpus used."""
    corpus = data / "conll2003" if data is not None else None
    if corpus is not None and all((corpus / f"{split}.txt").is_file() for split in ("train", "dev", "test")):
        vectors = sorted((data / "glove").glob("*.txt.gz")) if (data / "glove").is_dir() else []
        return ({split: corpus / f"{split}.txt" for split in ("train", "dev", "test")},
                vectors[0] if vectors else None, "CoNLL-2003")
    return {split: sample_corpus(split) for split in ("train", "dev", "test")}, None, "sample corpus"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder holding conll2003/{train,dev,test}.txt (and glove/*.txt.gz)")
    parser.add_argument("--sample", action="store_true", help="train on the bundled sample corpus")
    parser.add_argument("--epochs", type=int, default=8, help="most epochs to train")
    parser.add_argument("--out", type=Path, default=Path("runs/binary-loc"), help="folder for the model and PNG")
    args = parser.parse_args(argv)

    plot.require_matplotlib()  # fail before training, not after
    files, vectors, corpus = splits(None if args.sample else args.data)
    print(f"training J = sigma(u . h), 'is the centre word {TYPE}?', on the {corpus}"
          + (f" with {vectors.name}" if vectors else ""), file=sys.stderr)
    experiment = Experiment(train_path=files["train"], dev_path=files["dev"], test_path=files["test"],
                            vectors_path=vectors, out=args.out, head="binary",
                            head_options=BinaryHead.Options(type=TYPE),
                            training=TrainConfig(epochs=args.epochs), progress=False, epoch_lines=True)
    results, _ = run_experiment(experiment)
    name = f"binary {TYPE}, {corpus}"
    picture = plot.plot_learning_curves(plot.read_metrics(args.out), args.out / "binary-loc-curves", name,
                                        formats=("png",))[0]
    for split in ("dev", "test"):
        scores = results[split]
        print(f"{split}: token-level {TYPE} precision {100 * scores['precision']:.2f}, recall "
              f"{100 * scores['recall']:.2f}, F1 {100 * scores['f1']:.2f}")
    print(f"learning curves: {picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
