"""Tagging on a Dask cluster: a ``dask.bag`` of texts or records, or a text column of a ``dask.dataframe``.

Needs the optional extra: ``pip install "window-ner[dask]"`` (dask, distributed, and pyarrow for Parquet).

The model reaches the workers once, not with every task: :func:`ship_model` registers a worker plugin that
carries the model file's bytes; each worker (also one that joins later) writes them to its local folder and
loads the tagger once, and the tasks only name the plugin. A model file on a file system every worker can
read works too: pass its path instead, and each worker process loads it once on first use.

A record that cannot be tagged (not a string, no ``"text"`` string) is not fatal: its result holds an
``"error"`` field saying why, beside its own fields, and every other record is tagged.

On a real cluster::

    dask scheduler                                  # on one machine: prints tcp://HOST:8786
    dask worker tcp://HOST:8786 --nworkers 2        # on each machine (window-ner installed there)
    window-ner tag --model runs/glove --input docs.jsonl --dask tcp://HOST:8786 --output tagged/

or from Python::

    from distributed import Client
    import dask.bag as db
    from window_ner.dask import ship_model, tag_bag
    client = Client("tcp://HOST:8786")
    model = ship_model(client, "runs/glove")
    tag_bag(db.read_text("docs-*.txt"), model).map(json.dumps).to_textfiles("tagged/*.jsonl")
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from window_ner.errors import InputError
from window_ner.files import open_atomic
from window_ner.ner.inference.records import Record, tag_records
from window_ner.ner.inference.tagger import Tagger, model_path

try:
    import dask
    import dask.bag as db
    import dask.dataframe as dd
    from distributed import Client, get_worker
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError('window_ner.dask needs the dask extra: pip install "window-ner[dask]"') from error

__all__ = ["ModelPlugin", "parse_line", "ship_model", "tag_bag", "tag_dataframe", "tag_partition",
           "write_partitions"]

PLUGIN_PREFIX = "window-ner-model:"
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_loaded: dict[str, Tagger] = {}  # per worker process: a model given by path, loaded once


def _fast_malloc() -> None:
    """Undo, in this worker process, what the Dask nanny's MALLOC_TRIM_THRESHOLD_=65536 does to NumPy code.

    Setting that variable fixes glibc's thresholds, so every array above 128 kB gets a fresh mmap and every
    free returns it: tagging ran 1.5-1.8x slower in such a process (measured with the variable set on a
    plain `window-ner tag`). Large thresholds restore the speed while still returning memory to the system
    once 64 MB lie free. Does nothing where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 64 << 20)
    except (OSError, AttributeError):
        pass


class ModelPlugin(WorkerPlugin):
    """Carries a model file to every worker and loads it there once."""

    def __init__(self, path: str | Path):
        target = model_path(path)
        self.file_name = target.name
        self.data = target.read_bytes()
        self.name = PLUGIN_PREFIX + f"{target.resolve()}"
        self.tagger: Tagger | None = None

    def setup(self, worker: Any) -> None:
        _fast_malloc()
        local = Path(worker.local_directory) / "window-ner" / self.file_name
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(self.data)
        self.tagger = Tagger.load(local)


def ship_model(client: Client, path: str | Path) -> str:
    """Send the model file to every worker of ``client``'s cluster (and to workers that join later); returns
    the reference to pass to :func:`tag_bag` and :func:`tag_dataframe`."""
    plugin = ModelPlugin(path)
    client.register_plugin(plugin)
    return plugin.name


def _tagger(model: str) -> Tagger:
    """The worker's tagger: the shipped plugin's, or the file at ``model`` loaded once per process."""
    if model.startswith(PLUGIN_PREFIX):
        plugin = get_worker().plugins.get(model)
        if plugin is None or plugin.tagger is None:
            raise RuntimeError(f"the model {model[len(PLUGIN_PREFIX):]} was not shipped to this worker; call "
                               "ship_model(client, path) first")
        return plugin.tagger
    tagger = _loaded.get(model)
    if tagger is None:
        _fast_malloc()
        tagger = _loaded[model] = Tagger.load(model)
    return tagger


def _record(item: Any, position: int) -> Record | str:
    """The record of a bag item (a text, or a mapping with a "text" string), or why it is none."""
    if isinstance(item, _NotJson):
        return f"not a JSON object ({item.reason})"
    if isinstance(item, str):
        return Record(position, item.rstrip("\r\n"))
    if isinstance(item, dict):
        text = item.get("text")
        if isinstance(text, str):
            return Record(position, text, item)
        return "no \"text\" string in the record" if text is None else f"\"text\" is a {type(text).__name__}"
    return f"{type(item).__name__!r} is no record: expected a string or a mapping with a \"text\" string"


def tag_partition(items: Iterable[Any], model: str) -> list[dict[str, Any]]:
    """The results of one partition, in order: each record's fields (or ``{"text": ...}``) with its
    ``"entities"``, or with an ``"error"`` for an item that is no record."""
    items = list(items)  # a bag hands its partition over as an iterator
    parsed = [_record(item, i) for i, item in enumerate(items)]
    good = [record for record in parsed if isinstance(record, Record)]
    tagged = iter(tag_records(_tagger(model), good))
    results = []
    for item, record in zip(items, parsed, strict=True):
        if isinstance(record, Record):
            results.append(next(tagged))
        else:
            base = dict(item) if isinstance(item, dict) else {"item": repr(item)[:200]}
            results.append({**base, "error": record})
    return results


def parse_line(line: str) -> Any:
    """A JSON line as its object, or a marker the tagging turns into an ``"error"`` result."""
    try:
        return json.loads(line)
    except ValueError as error:
        return _NotJson(line, str(error))


class _NotJson:
    def __init__(self, line: str, reason: str):
        self.line, self.reason = line, reason

    def __repr__(self) -> str:
        return self.line[:200]


def tag_bag(bag: db.Bag, model: str | Path) -> db.Bag:
    """A bag of results, one per item of ``bag`` (texts or records), partition by partition, in order.

    ``model`` is what :func:`ship_model` returned, or the path of a model file every worker can read."""
    return bag.map_partitions(tag_partition, _reference(model))


def tag_dataframe(frame: dd.DataFrame, model: str | Path, column: str = "text",
                  into: str = "entities") -> dd.DataFrame:
    """``frame`` with a column ``into`` holding each row's entities as a JSON list (offsets into the row's
    ``column``, label, probability); a row whose text is missing gets null."""
    if column not in frame.columns:
        raise InputError(f"the dataframe has no column {column!r} (it has {', '.join(map(str, frame.columns))})")
    reference = _reference(model)
    meta = frame._meta.assign(**{into: frame._meta[column].astype("string")})
    return frame.map_partitions(_tag_frame_partition, reference, column, into, meta=meta)


def _tag_frame_partition(part: Any, model: str, column: str, into: str) -> Any:
    texts = part[column]
    results = tag_partition([text if isinstance(text, str) else None for text in texts], model)
    entities = [json.dumps(r["entities"], ensure_ascii=False) if "entities" in r else None for r in results]
    return part.assign(**{into: entities}).astype({into: "string"})


def write_partitions(results: db.Bag, folder: str | Path, to_line: Callable[[dict[str, Any]], str]) -> int:
    """Write each partition of ``results`` to ``folder/part-N.jsonl`` (N from 0, in input order), one
    ``to_line(result)`` per line, each file all or nothing; returns how many results hold an ``"error"``.
    The workers write, so ``folder`` must be a path they can write to."""
    folder = Path(folder)
    tasks = [_write_part(part, str(folder / f"part-{i}.jsonl"), to_line)
             for i, part in enumerate(results.to_delayed())]
    return sum(dask.compute(*tasks))


@dask.delayed(pure=False)
def _write_part(results: list[dict[str, Any]], path: str, to_line: Callable[[dict[str, Any]], str]) -> int:
    errors = 0
    with open_atomic(path, "w", encoding="utf-8", newline="\n") as out:
        for result in results:
            out.write(to_line(result) + "\n")
            errors += "error" in result
    return errors


def _reference(model: str | Path) -> str:
    text = os.fspath(model)
    return text if text.startswith(PLUGIN_PREFIX) else str(model_path(text).resolve())
