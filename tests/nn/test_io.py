"""Safe save/load: bit-identical round trips, atomic writes, clear errors, never unpickling."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from window_ner import nn
from window_ner.nn import io

METADATA = {"format": "window-ner model", "model": {"hidden": [300], "window": 2}, "tags": ["O", "B-PER"]}


def make_model(seed: int = 0) -> nn.Module:
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Embedding(20, 4, padding_idx=0, rng=rng), nn.Linear(4, 3, rng=rng))


def tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "W": rng.standard_normal((3, 4)).astype(np.float32),
        "b64": rng.standard_normal(5),
        "ids": np.arange(6, dtype=np.int64).reshape(2, 3),
        "mask": np.array([True, False]),
        "transposed": rng.standard_normal((3, 2)).astype(np.float32).T,  # not contiguous
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def test_file_round_trip_is_bit_identical(tmp_path: Path) -> None:
    original = tensors()
    path = io.save(tmp_path / "model.safetensors", original, METADATA)
    loaded, metadata = io.load(path)
    assert metadata == METADATA
    assert set(loaded) == set(original)
    for name, array in original.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape, name
        assert loaded[name].tobytes() == np.ascontiguousarray(array).tobytes(), name
        assert loaded[name].flags.writeable and loaded[name].flags.owndata, name


def test_header_holds_json_metadata_and_versions(tmp_path: Path) -> None:
    from safetensors import safe_open

    path = io.save(tmp_path / "m.safetensors", {"x": np.zeros(2, dtype=np.float32)}, METADATA)
    with safe_open(str(path), framework="np") as handle:
        header = handle.metadata()
    assert json.loads(header[io.METADATA_KEY]) == METADATA
    assert {"window_ner_version", "numpy_version", "safetensors_version"} <= set(header)


def test_module_round_trip_through_a_file(tmp_path: Path) -> None:
    model = make_model(0)
    path = io.save_module(tmp_path / "model.safetensors", model, {"vocab": 20})
    other = make_model(1)
    metadata = io.load_state(path, other)
    assert metadata["config"] == {"vocab": 20}
    for name, value in model.state_dict().items():
        assert other.state_dict()[name].tobytes() == value.tobytes(), name


def test_load_state_errors_name_the_file_and_tensor(tmp_path: Path) -> None:
    path = io.save_module(tmp_path / "model.safetensors", make_model())
    bigger = nn.Sequential(nn.Embedding(30, 4, padding_idx=0), nn.Linear(4, 3))
    with pytest.raises(io.ModelFileError, match=r"model.safetensors.*0.weight: shape \(20, 4\)"):
        io.load_state(path, bigger)
    double = nn.Sequential(nn.Embedding(20, 4, dtype=np.float64), nn.Linear(4, 3, dtype=np.float64))
    with pytest.raises(io.ModelFileError, match="0.weight: dtype float32, the module has float64"):
        io.load_state(path, double)
    longer = nn.Sequential(nn.Embedding(20, 4), nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    with pytest.raises(io.ModelFileError, match=r"missing: 3.W, 3.b"):
        io.load_state(path, longer)
    shorter = nn.Sequential(nn.Embedding(20, 4))
    with pytest.raises(io.ModelFileError, match=r"unexpected: 1.W, 1.b"):
        io.load_state(path, shorter)


def test_load_against_an_expected_spec(tmp_path: Path) -> None:
    path = io.save(tmp_path / "t.safetensors", {"a": np.zeros((2, 3), dtype=np.float32)})
    io.load(path, expected={"a": ((2, 3), np.float32)})
    with pytest.raises(io.ModelFileError, match=r"t.safetensors: tensor 'a' has shape \(2, 3\), expected \(3, 2\)"):
        io.load(path, expected={"a": ((3, 2), np.float32)})
    with pytest.raises(io.ModelFileError, match="tensor 'a' has dtype float32, expected float64"):
        io.load(path, expected={"a": np.zeros((2, 3))})
    with pytest.raises(io.ModelFileError, match="missing tensors: b; unexpected tensors: a"):
        io.load(path, expected={"b": ((2, 3), np.float32)})


# ----------------------------------------------------------------------------- bad files

def test_truncated_file(tmp_path: Path) -> None:
    path = io.save(tmp_path / "model.safetensors", tensors(), METADATA)
    data = path.read_bytes()
    for keep in (len(data) - 5, 100, 9, 3, 0):
        bad = tmp_path / f"cut{keep}.safetensors"
        bad.write_bytes(data[:keep])
        with pytest.raises(io.ModelFileError, match=f"cut{keep}.safetensors: .*(truncated|too short)"):
            io.load(bad)


def test_truncated_data_names_the_tensor(tmp_path: Path) -> None:
    path = io.save(tmp_path / "model.safetensors", {"only": np.ones(100, dtype=np.float32)})
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(io.ModelFileError, match="tensor 'only' needs 400 data bytes .* truncated"):
        io.load(path)


def test_random_bytes_and_corrupted_header(tmp_path: Path) -> None:
    noise = tmp_path / "noise.safetensors"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(io.ModelFileError, match="noise.safetensors: .*re-save"):
        io.load(noise)
    path = io.save(tmp_path / "model.safetensors", tensors())
    data = bytearray(path.read_bytes())
    data[10:14] = b"\xff\xfe{]"
    path.write_bytes(bytes(data))
    with pytest.raises(io.ModelFileError, match="header is not valid JSON"):
        io.load(path)


def test_inconsistent_header_is_caught_from_safetensors(tmp_path: Path) -> None:
    header = json.dumps({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))  # 4 floats need 16 bytes, not 8
    with pytest.raises(io.ModelFileError, match="bad.safetensors: not a readable safetensors file"):
        io.load(bad)


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "absent.safetensors")


class _Marker:
    """Unpickling this object creates a file: proof that code ran."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self) -> tuple:
        return (open, (str(self.path), "w"))


def test_a_pickle_file_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.safetensors"
    evil.write_bytes(pickle.dumps(_Marker(marker)))
    with pytest.raises(io.ModelFileError, match="looks like a Python pickle"):
        io.load(evil)
    with pytest.raises(io.ModelFileError):
        io.load_state(evil, make_model())
    assert not marker.exists()


def test_unsavable_inputs_are_rejected_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        io.save(path, {"a": np.zeros(1)}, {"bad": object()})
    with pytest.raises(TypeError, match="cannot store"):
        io.save(path, {"a": np.array(["text"])})
    assert not path.exists() and list(tmp_path.iterdir()) == []
    io.save(path, {"a": np.zeros(1)}, {"numpy": np.float32(1.5), "array": np.arange(2)})
    assert io.load(path)[1] == {"numpy": 1.5, "array": [0, 1]}


# ----------------------------------------------------------------------------- atomic writes

def test_failing_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = io.save(tmp_path / "model.safetensors", {"a": np.ones(3, dtype=np.float32)}, {"v": 1})
    before = path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        io.save(path, {"a": np.zeros(3, dtype=np.float32)}, {"v": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
    assert io.load(path)[1] == {"v": 1}


def test_interrupted_rename_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = io.save(tmp_path / "model.safetensors", {"a": np.ones(3, dtype=np.float32)})
    before = path.read_bytes()

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.save(path, {"a": np.zeros(3, dtype=np.float32)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_saved_file_mode_follows_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = io.save(tmp_path / "m.safetensors", {"a": np.zeros(1)})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_atomic_write_goes_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    with io.open_atomic(tmp_path / "link.txt", "w") as handle:
        handle.write("new")
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real.txt"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_atomic_write_streams_into_a_pipe(tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with io.open_atomic(fifo, "w") as handle:
        handle.write("through the pipe")
    reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert fifo.is_fifo()  # not replaced by a regular file


@pytest.mark.parametrize("name", ["folder", ""])
def test_atomic_write_refuses_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IsADirectoryError, match="is a folder; give a file name"), io.open_atomic(name, "w"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_a_0d_tensor_keeps_its_shape(tmp_path: Path) -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.temperature = nn.Parameter(np.array(1.5, dtype=np.float32))

    path = io.save(tmp_path / "t.safetensors", {"t": np.array(1.5)})
    assert io.load(path)[0]["t"].shape == ()
    io.save_module(tmp_path / "m.safetensors", Scaled())
    restored = Scaled()
    restored.temperature.data[...] = 0
    io.load_state(tmp_path / "m.safetensors", restored)
    assert restored.temperature.data == np.float32(1.5)


def test_the_header_entry_name_cannot_name_a_tensor(tmp_path: Path) -> None:
    path = io.save(tmp_path / "m.safetensors", {"w": np.ones(2)})
    with pytest.raises(ValueError, match="__metadata__"):
        io.save(path, {"__metadata__": np.ones(2), "w": np.zeros(2)})
    assert np.array_equal(io.load(path)[0]["w"], np.ones(2))  # the good file is untouched
