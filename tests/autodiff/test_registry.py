"""The primitive registry: one table, bindings that are the ops themselves, refusals, and the user API."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import window_ner.autodiff as ad
from tests.autodiff._cases import uncovered
from window_ner.autodiff import (
    GradcheckError,
    RegistrationError,
    Tensor,
    functional,
    gradcheck,
    make,
    ops,
    primitive,
    shapes,
    tensor,
)
from window_ner.autodiff.registry import PRIMITIVES, exported, unregister

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def engine_table_unchanged() -> Iterator[None]:
    """Every test may register primitives of its own: they are removed afterwards, the engine's stay."""
    before = dict(PRIMITIVES)
    yield
    for name in [name for name in PRIMITIVES if name not in before]:
        unregister(name)
    assert dict(PRIMITIVES) == before


def softplus(x: Tensor) -> Tensor:
    """log(1 + e^x). Local Jacobian: diag(sigmoid(x))."""
    slope = 0.5 * (1 + np.tanh(0.5 * x.data))
    return make(np.logaddexp(0, x.data), (x,), lambda g: (g * slope,), "softplus")


def scaled(a: Any, b: Any) -> Tensor:
    """a * b, written as a user would. Local Jacobians: diag(b) and diag(a)."""
    av, a = (a.data, a) if isinstance(a, Tensor) else (a, None)
    bv, b = (b.data, b) if isinstance(b, Tensor) else (b, None)
    return make(av * bv, (a, b), lambda g: (g * bv, g * av), "scaled")


def param(values: Any) -> Tensor:
    return Tensor(values, requires_grad=True, dtype=np.float64)


# ------------------------------------------------------------------ bindings are the ops themselves

@pytest.mark.parametrize(("attr", "op"), [
    ("__add__", ad.add), ("__sub__", ad.sub), ("__mul__", ad.mul), ("__truediv__", ad.div),
    ("__pow__", ad.power), ("__matmul__", ad.matmul), ("__neg__", ad.neg), ("__getitem__", ad.getitem),
])
def test_operators_are_the_ops_themselves(attr: str, op: Any) -> None:
    assert getattr(Tensor, attr) is op


def test_methods_are_the_ops_themselves() -> None:
    assert Tensor.exp is ops.exp and Tensor.tanh is ad.tanh and Tensor.sum is ops.sum
    assert Tensor.mean is functional.mean and Tensor.hardtanh is functional.hardtanh
    assert Tensor.expand is Tensor.broadcast_to is ad.broadcast_to is ad.expand
    for entry in PRIMITIVES.values():
        for name in entry.methods + entry.operators:
            if not entry.varargs:
                assert getattr(Tensor, name) is entry.fn, f"Tensor.{name}"


def test_reflected_operators_swap_their_operands() -> None:
    x = param([1.0, 4.0])
    np.testing.assert_array_equal((2.0 - x).data, [1.0, -2.0])
    np.testing.assert_array_equal((np.array([8.0, 8.0]) / x).data, [8.0, 2.0])
    np.testing.assert_array_equal((2.0**x).data, [2.0, 16.0])
    assert Tensor.__rsub__.__name__ == "__rsub__"


def test_reshape_and_transpose_take_both_argument_forms() -> None:
    values = np.arange(6.0).reshape(2, 3)
    t = Tensor(values)
    for shaped in (t.reshape(3, 2), t.reshape((3, 2)), t.reshape([3, 2])):
        np.testing.assert_array_equal(shaped.data, values.reshape(3, 2))
    assert t.reshape(-1).shape == (6,)
    for flipped in (t.T, t.transpose(), t.transpose(1, 0), t.transpose((1, 0))):
        np.testing.assert_array_equal(flipped.data, values.T)
    assert t.unsqueeze(0).squeeze(0).shape == (2, 3) and t.expand((4, 2, 3)).shape == (4, 2, 3)


def test_exports_come_from_the_table() -> None:
    assert ad.make is tensor.make and ad.primitive is primitive
    for name, fn in exported().items():
        assert getattr(ad, name) is fn and name in ad.__all__
    for module in (ad, ops, shapes, functional):
        assert all(hasattr(module, name) for name in module.__all__), module.__name__
    assert set(ops.__all__) == {name for name, fn in exported().items() if not PRIMITIVES[fn.__name__].composite}
    assert set(functional.__all__) == {"mean", "hardtanh", "logsumexp", "softmax", "log_softmax"}
    assert all(PRIMITIVES[name].composite for name in functional.__all__)


# ------------------------------------------------------------------ registering

def test_the_decorator_returns_the_function_itself_and_binds_it() -> None:
    assert primitive(method="softplus")(softplus) is softplus
    assert PRIMITIVES["softplus"].fn is softplus and Tensor.softplus is softplus


def test_registering_a_name_twice_is_refused() -> None:
    primitive()(softplus)
    with pytest.raises(RegistrationError, match="'softplus' is already registered.*override=True"):
        primitive()(softplus)
    with pytest.raises(ValueError, match="'add' is already registered"):  # RegistrationError is a ValueError
        primitive("add")(scaled)
    with pytest.raises(RegistrationError, match="'expand' is already registered"):  # an alias counts
        primitive(aliases=("expand",))(scaled)


def test_override_replaces_the_entry_and_its_bindings() -> None:
    primitive("soft", method="soft_a")(softplus)
    primitive("soft", method="soft_b", override=True)(scaled)
    assert PRIMITIVES["soft"].fn is scaled and Tensor.soft_b is scaled
    assert not hasattr(Tensor, "soft_a")


@pytest.mark.parametrize(("bindings", "message"), [
    ({"method": "shape"}, "Tensor.shape is part of Tensor itself"),
    ({"method": "backward"}, "Tensor.backward is part of Tensor itself"),
    ({"operator": "__eq__"}, "Tensor.__eq__ is part of Tensor itself"),
    ({"operator": "__add__"}, "Tensor.__add__ is already bound to the primitive 'add'"),
    ({"method": "exp"}, "Tensor.exp is already bound to the primitive 'exp'"),
])
def test_a_taken_tensor_attribute_is_refused_and_nothing_changes(bindings: dict, message: str) -> None:
    with pytest.raises(RegistrationError, match=message):
        primitive("scaled", **bindings, override=True)(scaled)
    assert "scaled" not in PRIMITIVES and Tensor.__add__ is ad.add and Tensor.exp is ad.exp


@pytest.mark.parametrize("bindings", [{"operator": "add"}, {"method": "__and__"}, {"varargs": True},
                                      {"method": ("twice", "twice")}])
def test_malformed_bindings_are_refused(bindings: dict) -> None:
    with pytest.raises(ValueError):
        primitive("scaled", **bindings)(scaled)
    assert "scaled" not in PRIMITIVES


def test_the_decorator_without_parentheses_says_how_to_write_it() -> None:
    with pytest.raises(TypeError, match=r"@primitive\(\)"):
        primitive(scaled)


def test_unregister_removes_the_entry_and_its_bindings() -> None:
    primitive("scaled", operator="__and__", reflected="__rand__", method="scaled")(scaled)
    x = param([2.0, 3.0])
    np.testing.assert_array_equal((x & 4.0).data, [8.0, 12.0])
    np.testing.assert_array_equal((4.0 & x).data, [8.0, 12.0])
    assert unregister("scaled").fn is scaled
    assert not any(hasattr(Tensor, name) for name in ("__and__", "__rand__", "scaled"))
    with pytest.raises(KeyError, match="no primitive named 'scaled'"):
        unregister("scaled")


def test_a_registered_primitive_without_gradient_checks_fails_the_coverage_test() -> None:
    assert uncovered() == []
    primitive("untested", operator="__and__")(scaled)
    missing = uncovered()
    assert "untested" in missing
    assert any("Tensor.__and__" in item for item in missing)


# ------------------------------------------------------------------ a user's primitive, through the public API

def test_a_user_primitive_passes_gradcheck_in_float64() -> None:
    primitive(method="softplus")(softplus)
    primitive()(scaled)
    rng = np.random.default_rng(0)
    x, y = param(rng.uniform(-3, 3, (3, 4))), param(rng.uniform(-3, 3, (4,)))
    assert gradcheck(softplus, [x])
    assert gradcheck(lambda t: t.softplus().sum(axis=0), [x])
    assert gradcheck(scaled, [x, y])  # y broadcasts: the engine sums its gradient back to (4,)
    assert gradcheck(lambda t: scaled(t, t), [y])  # fan-out: both uses add up


def test_a_user_rule_gets_the_engine_semantics() -> None:
    primitive()(scaled)
    x, constant = param([[1.0, 2.0], [3.0, 4.0]]), Tensor([10.0, 20.0], dtype=np.float64)
    scaled(x, constant).backward(np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad, [[10.0, 20.0], [10.0, 20.0]])
    assert constant.grad is None  # a parent that does not require a gradient is skipped
    w = param([1.0, 2.0])
    scaled(x, w).sum().backward()
    np.testing.assert_array_equal(w.grad, [4.0, 6.0])  # the (2, 2) gradient is summed back to (2,)


def test_a_wrong_user_rule_is_caught_by_gradcheck() -> None:
    def wrong(x: Tensor) -> Tensor:
        return make(np.logaddexp(0, x.data), (x,), lambda g: (g,), "wrong")

    with pytest.raises(GradcheckError):
        gradcheck(primitive()(wrong), [param([0.5, -1.0])])


def test_a_user_graph_is_freed_by_reference_counting() -> None:
    primitive()(softplus)
    gc.collect()
    gc.disable()
    try:
        out = softplus(param([1.0, 2.0]))
        alive = weakref.ref(out)
        del out
        assert alive() is None
    finally:
        gc.enable()


def test_the_custom_primitive_example_runs() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "custom_primitive.py")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("passed") >= 4 and "all gradient checks passed" in result.stdout


def test_a_custom_op_needs_only_names_the_package_exports() -> None:
    """examples/custom_primitive.py imports from window_ner.autodiff only, and only exported names."""
    import ast

    tree = ast.parse((ROOT / "examples" / "custom_primitive.py").read_text())
    imported = [(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names if node.module and node.module.startswith("window_ner")]
    assert imported and {module for module, _ in imported} == {"window_ner.autodiff"}
    assert {name for _, name in imported} <= set(ad.__all__)
    for name in ("make", "operand", "primitive", "unregister", "gradcheck", "RegistrationError", "PRIMITIVES"):
        assert name in ad.__all__, name


def test_operand_splits_a_tensor_from_a_plain_number() -> None:
    t = Tensor([1.0, 2.0], requires_grad=True)
    value, node, needs = ad.operand(t)
    assert value is t.data and node is t and needs
    assert ad.operand(2.5) == (2.5, None, False)
    assert ad.operand(Tensor(1.0))[2] is False
