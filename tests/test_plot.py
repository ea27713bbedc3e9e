"""Pictures (window_ner.plot, ``window-ner plot``, ``evaluate --plots``): the files are written and are valid PNG
and SVG, the confusion matrix counts what a hand count gives, a missing extra and a bad run folder are one-line
errors with exit 2, and the binary-LOC example runs and draws its curves."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from tests.ner._trained import binary_model, multiclass_model
from window_ner import plot
from window_ner.cli import main
from window_ner.errors import InputError
from window_ner.ner.data import metrics
from window_ner.ner.data.conll import Sentence, write_conll
from window_ner.ner.experiment import sample_corpus

try:
    import matplotlib  # noqa: F401
    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False

needs_matplotlib = pytest.mark.skipif(not HAVE_MATPLOTLIB,
                                      reason='the plot tests need the plot extra: pip install -e ".[plot]"')
ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# a hand-made example: (gold, predicted) per sentence, and what the confusion matrix must hold
GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "O"], ["B-LOC", "I-LOC"], ["O", "B-MISC"]]
PREDICTED = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "O", "B-LOC"], ["B-LOC", "O"], ["O", "B-MISC"]]
EXPECTED = {  # (gold row, predicted column): count; every other cell is 0
    ("PER", "PER"): 1,
    ("MISC", "MISC"): 1,
    ("LOC", "ORG"): 1,  # right span, wrong type
    ("ORG", "missed"): 1,  # no predicted entity at the span
    ("LOC", "missed"): 1,  # the prediction covers one of its two words: a wrong span
    ("spurious", "LOC"): 2,  # "B-LOC" of sentence 2, and the one-word LOC of sentence 3
}


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("window-ner: error:"), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)


def assert_valid_picture(path: Path) -> None:
    data = path.read_bytes()
    if path.suffix == ".png":
        assert data.startswith(PNG_SIGNATURE), path
        from matplotlib import image

        pixels = image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] >= 300 and pixels.shape[1] >= 400, (path, pixels.shape)
        assert np.ptp(pixels) > 0, f"{path} is blank"
    else:
        assert path.suffix == ".svg", path
        root = ElementTree.fromstring(data)
        assert root.tag == "{http://www.w3.org/2000/svg}svg", (path, root.tag)


def hand_made_run(folder: Path, epochs: int = 3) -> Path:
    """A run folder as ``window-ner train`` leaves it, with the metrics and predictions written by hand."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "metrics.jsonl", "w", encoding="utf-8") as handle:
        for epoch in range(1, epochs + 1):
            handle.write(json.dumps({"epoch": epoch, "seconds": 1.0, "tokens_per_s": 1000.0,
                                     "train_loss": 1.0 / epoch, "lr": 0.01 * 0.5 ** epoch,
                                     "dev": {"precision": 0.5 + 0.1 * epoch, "recall": 0.4 + 0.1 * epoch,
                                             "f1": 0.45 + 0.1 * epoch, "accuracy": 0.9},
                                     "best": True}) + "\n")
    sentences = [Sentence([f"w{i}" for i in range(len(tags))], tags) for tags in GOLD]
    for split in ("dev", "test"):
        write_conll(folder / f"{split}.predictions.conll", sentences, PREDICTED)
    return folder


# ----------------------------------------------------------------------------- the confusion matrix

def test_confusion_matrix_counts_equal_a_hand_count() -> None:
    confusion = plot.entity_confusion(GOLD, PREDICTED)
    assert confusion.types == ["LOC", "MISC", "ORG", "PER"]
    assert confusion.rows == ["LOC", "MISC", "ORG", "PER", "spurious"]
    assert confusion.columns == ["LOC", "MISC", "ORG", "PER", "missed"]
    for gold in confusion.rows:
        for predicted in confusion.columns:
            assert confusion.count(gold, predicted) == EXPECTED.get((gold, predicted), 0), (gold, predicted)


def test_confusion_matrix_agrees_with_conlleval_counts() -> None:
    """Diagonal = correct entities, row sums = gold entities, column sums = predicted ones, per type."""
    gold, predicted = plot.read_predictions(multiclass_model().folder / "dev.predictions.conll")
    report = metrics.evaluate(gold, predicted)
    confusion = plot.entity_confusion(gold, predicted)
    assert confusion.types == sorted(report.per_type)
    for i, kind in enumerate(confusion.types):
        scores = report.per_type[kind]
        assert confusion.matrix[i, i] == scores.n_correct
        assert confusion.matrix[i].sum() == scores.n_gold
        assert confusion.matrix[:, i].sum() == scores.n_pred
    assert confusion.matrix[-1, -1] == 0


def test_read_predictions_refuses_a_file_without_a_gold_column(tmp_path: Path) -> None:
    path = tmp_path / "tags.conll"
    path.write_text("Paris B-LOC\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="gold and a predicted tag column"):
        plot.read_predictions(path)


# ----------------------------------------------------------------------------- window-ner plot

@needs_matplotlib
def test_plot_writes_valid_png_and_svg_and_prints_their_paths(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    folder = hand_made_run(tmp_path / "my-run")
    code, out, err = run(capsys, "plot", folder, "--out", tmp_path / "pictures")
    assert code == 0, err
    written = [Path(line) for line in out.splitlines()]
    names = {f"{stem}.{fmt}" for stem in ("learning-curves", "dev-confusion", "dev-per-type", "test-confusion",
                                          "test-per-type") for fmt in ("png", "svg")}
    assert {path.name for path in written} == names
    assert {path.name for path in (tmp_path / "pictures").iterdir()} == names  # no temporary file left
    for path in written:
        assert_valid_picture(path)
    assert "my-run" in (tmp_path / "pictures" / "learning-curves.svg").read_text(encoding="utf-8")


@needs_matplotlib
def test_plot_of_a_trained_run_defaults_to_its_plots_folder(capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("metrics.jsonl", "dev.predictions.conll", "test.predictions.conll", "model.safetensors"):
        (folder / name).write_bytes((multiclass_model().folder / name).read_bytes())
    code, out, err = run(capsys, "plot", folder)
    assert code == 0, err
    assert len(out.splitlines()) == 10
    assert all(Path(line).parent == folder / "plots" for line in out.splitlines())


@needs_matplotlib
def test_plot_of_a_binary_run_leaves_out_the_types_it_does_not_ask_about(tmp_path: Path) -> None:
    written = plot.plot_run(binary_model().folder, tmp_path)
    assert plot.asked_types(binary_model().folder) == {"LOC"}
    assert len(written) == 10
    svg = (tmp_path / "test-confusion.svg").read_text(encoding="utf-8")
    assert "yes/no model of LOC" in svg


@needs_matplotlib
def test_plot_without_metrics_is_a_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "plot", tmp_path)
    assert_one_line_error(code, err, "metrics.jsonl", "not found")
    code, _, err = run(capsys, "plot", tmp_path / "nowhere")
    assert_one_line_error(code, err, "no such folder")


@needs_matplotlib
def test_plot_of_a_malformed_metrics_line_names_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = hand_made_run(tmp_path / "run")
    with open(folder / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    code, _, err = run(capsys, "plot", folder)
    assert_one_line_error(code, err, "metrics.jsonl:4")


def test_plot_without_matplotlib_names_the_extra(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    code, _, err = run(capsys, "plot", hand_made_run(tmp_path / "run"))
    assert_one_line_error(code, err, 'pip install "window-ner[plot]"')
    assert not (tmp_path / "run" / "plots").exists()


# ----------------------------------------------------------------------------- window-ner evaluate --plots

@needs_matplotlib
def test_evaluate_plots_writes_the_confusion_and_per_type_pictures(capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path) -> None:
    code, out, err = run(capsys, "evaluate", "--model", multiclass_model().folder, "--data", sample_corpus("test"),
                         "--json", "--plots", tmp_path / "plots")
    assert code == 0, err
    json.loads(out)  # the standard output stays the scores alone
    written = sorted(line.removeprefix("wrote ") for line in err.splitlines() if line.startswith("wrote "))
    assert [Path(path).name for path in written] == ["sample.test-confusion.png", "sample.test-confusion.svg",
                                                     "sample.test-per-type.png", "sample.test-per-type.svg"]
    for path in written:
        assert_valid_picture(Path(path))


def test_evaluate_plots_without_matplotlib_fails_before_the_work(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(capsys, "evaluate", "--model", tmp_path / "no-model", "--data", sample_corpus("test"),
                       "--plots", tmp_path / "plots")
    assert_one_line_error(code, err, 'pip install "window-ner[plot]"')  # not the missing model


# ----------------------------------------------------------------------------- the example

@needs_matplotlib
def test_binary_loc_example_trains_on_the_sample_corpus_and_draws_its_curves(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "binary_loc.py"), "--sample", "--epochs", "2",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "sample corpus" in done.stderr
    picture = tmp_path / "run" / "binary-loc-curves.png"
    assert f"learning curves: {picture}" in done.stdout
    assert_valid_picture(picture)
    assert len(plot.read_metrics(tmp_path / "run")) == 2
