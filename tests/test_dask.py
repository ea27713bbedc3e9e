"""Tagging on a real Dask cluster: a LocalCluster of two worker processes on loopback gives, record for record,
what the single-process Tagger gives; bad records are marked, not fatal; the CLI's --dask writes the same."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

db = pytest.importorskip("dask.bag", reason='the Dask tests need the dask extra: pip install -e ".[dask]"')
dd = pytest.importorskip("dask.dataframe", reason='the Dask tests need the dask extra: pip install -e ".[dask]"')
distributed = pytest.importorskip("distributed", reason='the Dask tests need the dask extra: pip install -e ".[dask]"')
pd = pytest.importorskip("pandas")

from tests.ner._trained import multiclass_model  # noqa: E402 (after the skips)
from window_ner.cli.demo import DEMO_SENTENCES  # noqa: E402
from window_ner.dask import ship_model, tag_bag, tag_dataframe  # noqa: E402
from window_ner.ner.inference.tagger import Tagger  # noqa: E402

TEXTS = [f"{sentence} ({i})" for i, sentence in enumerate(DEMO_SENTENCES * 20)]


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as connected:
        yield connected


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger.load(multiclass_model().folder)


def expected(tagger: Tagger, text: str) -> list[dict[str, object]]:
    return [entity.to_dict() for entity in tagger(text)]


def test_a_bag_of_texts_and_records_is_tagged_as_one_process_tags_it(client: distributed.Client,
                                                                     tagger: Tagger) -> None:
    items: list[object] = [*TEXTS[:40], *({"id": i, "text": t, "source": "wire"} for i, t in enumerate(TEXTS[40:]))]
    model = ship_model(client, multiclass_model().folder)
    results = tag_bag(db.from_sequence(items, npartitions=6), model).compute()
    assert len(results) == len(items)
    for item, result in zip(items, results, strict=True):
        text = item if isinstance(item, str) else item["text"]  # type: ignore[index]
        assert result["text"] == text
        assert result["entities"] == expected(tagger, text)
        if isinstance(item, dict):
            assert result["id"] == item["id"] and result["source"] == "wire"
    assert any(result["entities"] for result in results)  # the comparison means something


def test_the_model_is_loaded_once_per_worker_not_sent_with_each_task(client: distributed.Client) -> None:
    model = ship_model(client, multiclass_model().folder)
    tag_bag(db.from_sequence(TEXTS, npartitions=12), model).compute()
    loaded = client.run(lambda dask_worker: id(dask_worker.plugins[model].tagger))
    assert len(loaded) == 2 and all(loaded.values())
    again = client.run(lambda dask_worker: id(dask_worker.plugins[model].tagger))
    assert again == loaded  # the same tagger objects: nothing reloaded
    graph = tag_bag(db.from_sequence(TEXTS, npartitions=12), model).__dask_graph__()
    assert len(str(dict(graph))) < 100_000  # tasks carry the plugin's name, not the model's megabytes


def test_bad_records_are_marked_and_the_rest_tagged(client: distributed.Client, tagger: Tagger) -> None:
    items = ["Maria Lopez is in Geneva.", {"id": 7}, 42, {"id": 8, "text": ["not", "text"]}, "Paris."]
    results = tag_bag(db.from_sequence(items, npartitions=2), ship_model(client, multiclass_model().folder)).compute()
    assert [("error" in r) for r in results] == [False, True, True, True, False]
    assert results[1] == {"id": 7, "error": 'no "text" string in the record'}
    assert results[4]["entities"] == expected(tagger, "Paris.")


def test_a_model_path_every_worker_reads_works_without_shipping(client: distributed.Client, tagger: Tagger) -> None:
    results = tag_bag(db.from_sequence(TEXTS[:10], npartitions=2), multiclass_model().folder).compute()
    assert [r["entities"] for r in results] == [expected(tagger, t) for t in TEXTS[:10]]


def test_a_dataframe_column_is_tagged_and_written_as_parquet(client: distributed.Client, tagger: Tagger,
                                                             tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"id": range(30), "body": [*TEXTS[:29], None]})
    tagged = tag_dataframe(dd.from_pandas(frame, npartitions=3), ship_model(client, multiclass_model().folder),
                           column="body")
    tagged.to_parquet(tmp_path / "tagged")
    back = pd.read_parquet(tmp_path / "tagged").sort_values("id")
    assert list(back["id"]) == list(range(30))
    for body, entities in zip(back["body"][:29], back["entities"][:29], strict=True):
        assert json.loads(entities) == expected(tagger, body)
    assert pd.isna(back["entities"].iloc[29])


def test_the_cli_on_a_cluster_writes_what_one_process_writes(client: distributed.Client, tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    records = [{"id": i, "text": t} for i, t in enumerate(TEXTS)]
    source.write_text("".join(json.dumps(r) + "\n" for r in records[:50]) + "not json\n"
                      + "".join(json.dumps(r) + "\n" for r in records[50:]), encoding="utf-8")
    model = str(multiclass_model().folder)
    alone = subprocess.run([sys.executable, "-m", "window_ner", "tag", "--model", model, "--input", str(source),
                            "--format", "jsonl", "--skip-bad"], capture_output=True, text=True, timeout=120)
    assert alone.returncode == 0, alone.stderr
    out = tmp_path / "tagged"
    on_cluster = subprocess.run([sys.executable, "-m", "window_ner", "tag", "--model", model, "--input", str(source),
                                 "--format", "jsonl", "--dask", client.scheduler.address, "--output", str(out)],
                                capture_output=True, text=True, timeout=300)
    assert on_cluster.returncode == 0, on_cluster.stderr
    assert "1 bad records are marked" in on_cluster.stderr
    parts = sorted(out.glob("part-*.jsonl"), key=lambda p: int(p.stem.split("-")[1]))
    rows = [json.loads(line) for part in parts for line in part.read_text(encoding="utf-8").splitlines()]
    good = [row for row in rows if "error" not in row]
    assert [row for row in rows if "error" in row][0]["error"].startswith("not a JSON object")
    assert good == [json.loads(line) for line in alone.stdout.splitlines()]
