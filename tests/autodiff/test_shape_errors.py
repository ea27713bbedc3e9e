"""Shape errors name the op, both shapes and the tensors' names, in place of NumPy's gufunc text."""

from __future__ import annotations

import numpy as np
import pytest

from window_ner.autodiff import ShapeError, Tensor, concat, linear, ops


def named(shape: tuple[int, ...], name: str | None = None) -> Tensor:
    return Tensor(np.ones(shape), requires_grad=True, name=name)


def test_matmul_names_both_operands_and_the_inner_dimensions() -> None:
    with pytest.raises(ShapeError, match=r"^matmul: W \(3, 4\) @ x \(5,\): the left operand's last axis has 4 "
                                         r"entries, the right operand's first axis 5; they must be equal$"):
        named((3, 4), "W") @ named((5,), "x")
    with pytest.raises(ShapeError, match=r"^matmul: \(2, 3\) @ \(4, 2\): .* second-to-last axis 4"):
        named((2, 3)) @ named((4, 2))


def test_matmul_names_batch_axes_that_do_not_broadcast_and_a_zero_d_operand() -> None:
    with pytest.raises(ShapeError, match=r"batch axes \(2,\) and \(3,\) do not broadcast"):
        named((2, 3, 4)) @ named((3, 4, 2))
    with pytest.raises(ShapeError, match=r"multiply by a number with \*"):
        ops.matmul(named((3,)), 2.0)


def test_linear_names_x_and_w_or_their_given_names() -> None:
    with pytest.raises(ShapeError, match=r"^linear: x \(2, 5\) and layers\.0\.W \(3, 4\): W must be \(out, in\)"):
        linear(named((2, 5)), named((3, 4), "layers.0.W"))
    with pytest.raises(ShapeError, match=r"^linear: window \(5,\) and W \(3, 4\)"):
        linear(named((5,), "window"), np.ones((3, 4)))
    with pytest.raises(ShapeError, match=r"the bias \(2,\) does not fit W \(3, 4\), which needs one of shape \(3,\)"):
        linear(named((2, 4)), named((3, 4)), named((2,)))


def test_concat_lists_every_shape_and_the_axis() -> None:
    with pytest.raises(ShapeError, match=r"^concat along axis 1: words \(2, 3\), \(4, 2\): .*every axis but 1$"):
        concat([named((2, 3), "words"), named((4, 2))], axis=1)
    with pytest.raises(ShapeError, match=r"concat along axis 2"):
        concat([named((2, 3)), named((2, 3))], axis=2)


def test_reshape_names_the_tensor_its_size_and_the_shape_asked_for() -> None:
    with pytest.raises(ShapeError, match=r"^reshape: h \(2, 3\) has 6 entries, so it cannot take the shape \(4, 2\)$"):
        named((2, 3), "h").reshape(4, 2)
    with pytest.raises(ShapeError, match=r"cannot take the shape \(4, -1\)"):
        named((2, 3)).reshape((4, -1))


def test_a_shape_error_is_a_value_error() -> None:
    assert issubclass(ShapeError, ValueError)
