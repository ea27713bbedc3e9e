"""Parameter and Module: discovery, modes, state dicts and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from window_ner import nn
from window_ner.autodiff import Tensor


class Block(nn.Module):
    def __init__(self, rng: np.random.Generator):
        super().__init__()
        self.inner = nn.Linear(3, 4, rng=rng)
        self.scale = nn.Parameter(np.ones(4, dtype=np.float32))
        self.drop = nn.Dropout(0.5, rng=rng)
        self.heads = [nn.Linear(4, 2, rng=rng), nn.Linear(4, 1, rng=rng, bias=False)]
        self.names = ["not", "a", "module"]  # plain attributes are ignored
        self.config = {"hidden": 4}

    def forward(self, x: Tensor) -> Tensor:
        h = self.drop(self.inner(x).tanh() * self.scale)
        return self.heads[0](h)


def test_parameter_is_a_tensor_that_requires_grad() -> None:
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, Tensor) and p.requires_grad and p.dtype == np.float32 and p.is_leaf
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
    frozen_view = np.broadcast_to(np.zeros(3), (2, 3))
    assert nn.Parameter(frozen_view).data.flags.writeable  # optimisers write in place
    assert repr(p).startswith("Parameter(")


def test_named_parameters_in_attribute_order_with_dotted_names() -> None:
    block = Block(np.random.default_rng(0))
    names = [name for name, _ in block.named_parameters()]
    assert names == ["inner.W", "inner.b", "scale", "heads.0.W", "heads.0.b", "heads.1.W"]
    assert [p for _, p in block.named_parameters()] == list(block.parameters())
    assert [name for name, _ in block.named_modules()] == ["", "inner", "drop", "heads.0", "heads.1"]


def test_shared_parameters_are_listed_once() -> None:
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(2, 2, rng=rng), nn.Tanh())
    model.tied = model[0].W
    assert len(list(model.parameters())) == 2
    assert "tied" not in model.state_dict()


def test_module_list_and_sequential_names() -> None:
    rng = np.random.default_rng(0)
    seq = nn.Sequential(nn.Linear(2, 3, rng=rng), nn.ReLU(), nn.Linear(3, 1, rng=rng))
    assert [n for n, _ in seq.named_parameters()] == ["0.W", "0.b", "2.W", "2.b"]
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU)

    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2, rng=rng) for _ in range(2)])

    assert [n for n, _ in Stack().named_parameters()] == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]
    with pytest.raises(TypeError, match="holds Modules"):
        nn.ModuleList([3])


def test_call_runs_forward_and_base_forward_is_abstract() -> None:
    block = Block(np.random.default_rng(0)).eval()
    x = Tensor(np.ones((5, 3), dtype=np.float32))
    assert block(x).shape == (5, 2)
    with pytest.raises(NotImplementedError):
        nn.Module()(x)


def test_zero_grad_sets_none() -> None:
    block = Block(np.random.default_rng(0))
    block(Tensor(np.ones((2, 3), dtype=np.float32))).sum().backward()
    assert block.inner.W.grad is not None
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())


def test_train_and_eval_set_the_flag_recursively() -> None:
    block = Block(np.random.default_rng(0))
    assert block.training and block.drop.training
    assert block.eval() is block
    assert not any(m.training for m in block.modules())
    block.train()
    assert all(m.training for m in block.modules())


def test_state_dict_round_trip_is_bit_identical_and_copies() -> None:
    first, second = Block(np.random.default_rng(0)), Block(np.random.default_rng(1))
    state = first.state_dict()
    state["inner.W"][0, 0] = 123.0  # a copy: the module is unchanged
    assert first.inner.W.data[0, 0] != 123.0
    state = first.state_dict()
    result = second.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for name, value in second.state_dict().items():
        assert value.tobytes() == state[name].tobytes(), name
        assert value.dtype == state[name].dtype


def test_load_state_dict_updates_in_place() -> None:
    block = Block(np.random.default_rng(0))
    before = block.inner.W.data
    block.load_state_dict(Block(np.random.default_rng(1)).state_dict())
    assert block.inner.W.data is before


def test_load_state_dict_errors_name_every_problem() -> None:
    block = Block(np.random.default_rng(0))
    good = block.state_dict()
    missing = {k: v for k, v in good.items() if k != "scale"}
    with pytest.raises(nn.StateDictError, match="missing: scale"):
        block.load_state_dict(missing)
    with pytest.raises(nn.StateDictError, match="unexpected: extra"):
        block.load_state_dict({**good, "extra": np.zeros(1)})
    with pytest.raises(nn.StateDictError, match=r"inner.W: shape \(3, 3\), the module has \(4, 3\)"):
        block.load_state_dict({**good, "inner.W": np.zeros((3, 3), dtype=np.float32)})
    with pytest.raises(nn.StateDictError, match="inner.b: dtype float64, the module has float32"):
        block.load_state_dict({**good, "inner.b": np.zeros(4)})
    assert isinstance(nn.StateDictError("x"), ValueError)
    # Nothing was half-loaded by the failed calls.
    for name, value in block.state_dict().items():
        np.testing.assert_array_equal(value, good[name])


def test_load_state_dict_not_strict_reports_skipped_keys() -> None:
    block = Block(np.random.default_rng(0))
    state = {k: v for k, v in Block(np.random.default_rng(1)).state_dict().items() if k != "scale"}
    state["extra"] = np.zeros(1)
    result = block.load_state_dict(state, strict=False)
    assert result == nn.IncompatibleKeys(["scale"], ["extra"])
    np.testing.assert_array_equal(block.inner.W.data, state["inner.W"])
    with pytest.raises(nn.StateDictError, match="shape"):  # shapes are checked even when not strict
        block.load_state_dict({"scale": np.zeros(5, dtype=np.float32)}, strict=False)


def test_repr_shows_the_tree() -> None:
    text = repr(Block(np.random.default_rng(0)))
    assert "(inner): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "(heads.1): Linear(in_features=4, out_features=1, bias=False)" in text


def test_parameters_in_nested_lists_and_dicts_are_found() -> None:
    class Heads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = [[nn.Linear(2, 2, rng=0)], (nn.Linear(2, 1, rng=1),)]
            self.heads = {"ner": nn.Linear(2, 3, rng=2), "extra": [nn.Dropout(0.5)]}

    model = Heads()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["blocks.0.0.W", "blocks.0.0.b", "blocks.1.0.W", "blocks.1.0.b", "heads.ner.W", "heads.ner.b"]
    model.eval()
    assert not model.heads["extra"][0].training


def test_a_sequential_subclass_keeps_what_it_adds() -> None:
    class Scaled(nn.Sequential):
        def __init__(self) -> None:
            super().__init__(nn.Linear(2, 2, rng=0))
            self.scale = nn.Parameter(np.ones(1, dtype=np.float32))
            self.drop = nn.Dropout(0.5)

    model = Scaled()
    assert [name for name, _ in model.named_parameters()] == ["0.W", "0.b", "scale"]
    model.eval()
    assert not model.drop.training


def test_named_parameters_puts_each_dotted_name_on_its_parameter() -> None:
    block = Block(np.random.default_rng(0))
    named = dict(block.named_parameters())
    assert all(param.name == name for name, param in named.items())
    assert block.heads[0].W.name == "heads.0.W"


def test_a_parameter_keeps_a_name_it_was_given_or_got_first() -> None:
    rng = np.random.default_rng(0)
    layer = nn.Linear(2, 3, rng=rng)
    layer.W.name = "mine"
    model = nn.Sequential(layer, nn.Tanh(), nn.Linear(3, 1, rng=rng))
    list(model.parameters())
    assert [p.name for p in model.parameters()] == ["mine", "0.b", "2.W", "2.b"]
    model.tied = model[2].W  # a shared parameter: the first name found
    model.zero_grad()
    assert model[2].W.name == "2.W"


def test_a_models_picture_and_shape_errors_use_the_parameter_names() -> None:
    from window_ner.autodiff import ShapeError, to_dot, trace

    rng = np.random.default_rng(0)

    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(12, 8, rng=rng), nn.Linear(8, 3, rng=rng)])

        def forward(self, x: Tensor) -> Tensor:
            return self.layers[1](self.layers[0](x).tanh())

    model = Stack()
    model.zero_grad()
    window = Tensor(np.ones((1, 12), dtype=np.float32), name="window")
    with trace() as recording:
        model(window).sum().backward()
    dot = to_dot(recording)
    assert 'label="layers.0.W (8, 12)' in dot and 'label="layers.1.b (3,)' in dot
    assert 'label="window (1, 12)' in dot and "leaf" not in dot
    with pytest.raises(ShapeError, match=r"layers\.0\.W \(8, 12\)"):
        model(Tensor(np.ones((1, 5), dtype=np.float32)))
