"""Safe save and load: safetensors files (raw arrays plus a JSON header), written atomically, never unpickled.

The header's ``__metadata__`` string map holds our metadata as one JSON string under "window_ner", the
versions of window-ner, NumPy and safetensors that wrote the file, and under "checksums" a SHA-256 of each
tensor's bytes and of the metadata string, verified at load: a flipped byte anywhere in the weights or the
metadata is an error, not a silently different model (files written before checksums load unchecked).
Every problem with a file is raised as ``ModelFileError`` naming the file (and the tensor) and saying what to
do.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from window_ner import __version__
from window_ner.autodiff import Tensor
from window_ner.errors import InputError
from window_ner.files import open_atomic
from window_ner.nn.module import Module, StateDictError

__all__ = ["ModelFileError", "save", "load", "save_module", "load_state", "open_atomic", "METADATA_KEY"]

METADATA_KEY = "window_ner"
CHECKSUMS_KEY = "checksums"
_SAVABLE = {np.dtype(t) for t in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
                                  np.uint8, np.uint16, np.uint32, np.uint64, np.bool_)}
# Leading bytes of formats people may hand us by mistake: naming them makes the error actionable.
_FOREIGN = ((b"\x80", "a Python pickle"), (b"PK\x03\x04", "a zip archive (PyTorch .pt/.pth or NumPy .npz)"),
            (b"\x93NUMPY", "a NumPy .npy file"))
_HINT = "re-save the model with window_ner.nn.io.save (or train it again)"


class ModelFileError(InputError):
    """A model file is missing pieces, corrupted, truncated, or does not fit what was expected."""


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"metadata value of type {type(value).__name__} is not JSON-serialisable")


def save(path: str | os.PathLike, tensors: Mapping[str, Any],
         metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``tensors`` (name -> array or Tensor) and JSON-able ``metadata`` as safetensors, atomically.

    A crash or error while writing leaves any previous file at ``path`` intact. Returns the path.
    """
    path = Path(path)
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings, not {type(name).__name__} ({name!r})")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is the safetensors header's own entry and cannot name a tensor")
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype not in _SAVABLE:
            raise TypeError(f"tensor {name!r} has dtype {array.dtype}, which safetensors cannot store")
        # safetensors copies raw memory: it must be contiguous (not ascontiguousarray: it makes 0-d arrays 1-d)
        arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
    try:
        encoded = json.dumps(dict(metadata or {}), default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metadata for {path} is not JSON-serialisable: {exc}") from exc
    checksums = {name: _digest(array) for name, array in arrays.items()}
    checksums["__metadata__"] = _digest(encoded.encode("utf-8"))
    header = {
        METADATA_KEY: encoded,
        CHECKSUMS_KEY: json.dumps(checksums, sort_keys=True),
        "window_ner_version": __version__,
        "numpy_version": np.__version__,
        "safetensors_version": safetensors.__version__,
    }
    payload = safetensors.numpy.save(arrays, metadata=header)
    with open_atomic(path) as handle:
        handle.write(payload)
    return path


def _digest(data: Any) -> str:
    """SHA-256 of an array's bytes (C order) or of a bytes-like object, as hex."""
    return hashlib.sha256(data.reshape(-1).view(np.uint8) if isinstance(data, np.ndarray) else data).hexdigest()


def _verify_checksums(path: Path, data: bytes, header: dict[str, Any], raw_metadata: str | None) -> None:
    """Compare each tensor's bytes in the file, and the metadata, with the checksums the header records."""
    recorded = (header.get("__metadata__") or {}).get(CHECKSUMS_KEY)
    if recorded is None:
        return  # written before checksums existed
    try:
        checksums = json.loads(recorded)
        assert isinstance(checksums, dict)
    except (ValueError, AssertionError, RecursionError) as exc:
        raise ModelFileError(f"{path}: the checksums in the header are unreadable: the file is corrupted: "
                             f"{_HINT}") from exc
    start = 8 + int.from_bytes(data[:8], "little")
    view = memoryview(data)
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = (int(offset) for offset in info["data_offsets"])
        if checksums.get(name) != _digest(view[start + begin:start + end]):
            raise ModelFileError(f"{path}: tensor {name!r} does not match its checksum: bytes of the file were "
                                 f"changed or damaged after it was written: {_HINT}")
    if raw_metadata is not None and checksums.get("__metadata__") != _digest(raw_metadata.encode("utf-8")):
        raise ModelFileError(f"{path}: the window-ner metadata (vocabulary, tags, configuration) does not match "
                             f"its checksum: the file was changed or damaged after it was written: {_HINT}")


def _not_safetensors(path: Path, reason: str, data: bytes) -> ModelFileError:
    """The error for a file that is not safetensors; names the format it looks like, if any."""
    for magic, what in _FOREIGN:
        if data.startswith(magic):
            return ModelFileError(f"{path}: {reason}; it looks like {what}, which window-ner never loads "
                                  f"(only safetensors files, which cannot run code): {_HINT}")
    return ModelFileError(f"{path}: {reason}: the file is truncated, corrupted or not a safetensors file: "
                          f"{_HINT}")


def _safetensors_header(path: Path, data: bytes) -> dict[str, Any]:
    """The parsed safetensors header, after checks that give a precise reason for a bad file."""
    if len(data) < 8:
        raise _not_safetensors(path, f"{len(data)} bytes is too short for a safetensors file", data)
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        reason = (f"the header length field claims {size:,} bytes but only {len(data) - 8:,} follow it "
                  f"(the file holds {len(data):,} bytes in all)")
        raise _not_safetensors(path, reason, data)
    try:
        header = json.loads(data[8:8 + size])
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        raise _not_safetensors(path, f"the safetensors header is not valid JSON ({exc})", data) from exc
    if not isinstance(header, dict):
        raise _not_safetensors(path, "the safetensors header is not a JSON object", data)
    available = len(data) - 8 - size
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            end = int(info["data_offsets"][1])
        except (TypeError, KeyError, IndexError, ValueError, OverflowError) as exc:
            raise ModelFileError(f"{path}: tensor {name!r} has a malformed header entry: {_HINT}") from exc
        if end > available:
            raise ModelFileError(f"{path}: tensor {name!r} needs {end} data bytes but the file holds only "
                                 f"{available}: the file is truncated: {_HINT}")
    return header


def _check_expected(path: Path, tensors: Mapping[str, np.ndarray], expected: Mapping[str, Any]) -> None:
    problems = []
    missing = [name for name in expected if name not in tensors]
    unexpected = [name for name in tensors if name not in expected]
    if missing:
        problems.append(f"missing tensors: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {', '.join(unexpected)}")
    for name, spec in expected.items():
        if name not in tensors:
            continue
        shape, dtype = (spec.shape, spec.dtype) if hasattr(spec, "shape") else spec
        array = tensors[name]
        if array.shape != tuple(shape):
            problems.append(f"tensor {name!r} has shape {array.shape}, expected {tuple(shape)}")
        if array.dtype != np.dtype(dtype):
            problems.append(f"tensor {name!r} has dtype {array.dtype}, expected {np.dtype(dtype)}")
    if problems:
        raise ModelFileError(f"{path}: " + "; ".join(problems)
                             + ": the file was saved from a different model or configuration")


def load(path: str | os.PathLike,
         expected: Mapping[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by ``save``: (name -> writeable array, metadata). Never runs code from the file.

    ``expected`` (name -> array, or (shape, dtype)) makes missing, unexpected, mis-shaped or wrong-dtype
    tensors an error. Bad files raise ``ModelFileError``; a missing file raises FileNotFoundError.
    """
    path = Path(path)
    data = path.read_bytes()
    header = _safetensors_header(path, data)
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as exc:  # safetensors raises its own SafetensorError and others for malformed files
        raise ModelFileError(f"{path}: not a readable safetensors file ({exc}): {_HINT}") from exc
    # safetensors hands out read-only views of the bytes; parameters must own writeable memory.
    tensors = {name: np.array(arrays[name]) for name in header if name != "__metadata__"}
    raw = (header.get("__metadata__") or {}).get(METADATA_KEY)
    _verify_checksums(path, data, header, raw)
    metadata: dict[str, Any] = {}
    if raw is not None:
        try:
            metadata = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ModelFileError(f"{path}: the window-ner metadata is not valid JSON ({exc}): {_HINT}"
                                 ) from exc
        if not isinstance(metadata, dict):
            raise ModelFileError(f"{path}: the window-ner metadata is a JSON {type(metadata).__name__}, not an "
                                 f"object: {_HINT}")
    if expected is not None:
        _check_expected(path, tensors, expected)
    return tensors, metadata


def save_module(path: str | os.PathLike, module: Module, config: Mapping[str, Any] | None = None,
                metadata: Mapping[str, Any] | None = None) -> Path:
    """Save ``module.state_dict()`` with ``{"config": config, **metadata}`` as metadata, atomically."""
    return save(path, module.state_dict(), {"config": dict(config or {}), **dict(metadata or {})})


def load_state(path: str | os.PathLike, module: Module, strict: bool = True) -> dict[str, Any]:
    """Load a file into ``module``'s parameters (names, shapes and dtypes must fit); returns the metadata."""
    tensors, metadata = load(path)
    try:
        module.load_state_dict(tensors, strict=strict)
    except StateDictError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
    return metadata
