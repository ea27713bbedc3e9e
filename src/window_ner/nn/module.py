"""Parameter and Module: trainable tensors, and containers that find them in their attributes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from window_ner.autodiff import Tensor
from window_ner.errors import InputError

__all__ = ["Parameter", "Module", "ModuleList", "IncompatibleKeys", "StateDictError"]


class Parameter(Tensor):
    """A leaf tensor that a Module owns and an optimiser updates in place (requires a gradient by default)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)
        # Optimisers update ``data`` in place, so it must be a writeable array of its own layout.
        if not self.data.flags.writeable or not self.data.flags.c_contiguous:
            self.data = np.array(self.data, order="C")

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class StateDictError(InputError):
    """A state dict does not fit the module: missing, unexpected, mis-shaped or wrong-dtype entries."""


class IncompatibleKeys(NamedTuple):
    """Keys ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _members(value: Any) -> Iterator[tuple[str, Any]]:
    """(dotted suffix, item) for the Modules and Parameters inside a list, tuple or dict attribute, at any
    depth (``blocks[1][0]`` is "1.0", ``heads["ner"]`` is "ner")."""
    if isinstance(value, dict):
        items: Iterator[tuple[str, Any]] = ((str(key), item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((str(i), item) for i, item in enumerate(value))
    else:
        return
    for suffix, item in items:
        if isinstance(item, (Module, Parameter)):
            yield suffix, item
        else:
            for inner, found in _members(item):
                yield f"{suffix}.{inner}", found


class Module:
    """Base class: parameters and submodules are found in the instance's attributes (and in lists, tuples and
    dicts of them, nested).

    Subclasses set attributes in ``__init__`` (after ``super().__init__()``) and define ``forward``;
    calling the module calls ``forward``. Attribute order is the order of ``parameters()``.
    """

    training: bool = True

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ----- discovery -----
    def _direct(self) -> Iterator[tuple[str, Any]]:
        """(name, Parameter or Module) held directly by this module, in attribute order."""
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                yield name, value
            else:
                for suffix, item in _members(value):
                    yield f"{name}.{suffix}", item

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, submodule) for each direct submodule."""
        for name, value in self._direct():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        """Each direct submodule."""
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module ("") and every submodule, each once."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, child) for n, child in module.named_children()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every submodule, each once."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) depth-first in attribute order, each once (a shared one: first name).

        A parameter without a ``name`` takes its dotted name here ("layers.0.W"), so pictures, traces and shape
        errors call it that: the first module to list it names it, and building an optimiser, a state dict or
        ``zero_grad`` on the whole model lists every parameter from the top.
        """
        seen: set[int] = set()
        stack: list[Iterator[tuple[str, Any]]] = [iter(self._direct())]
        prefixes = [""]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
                prefixes.pop()
                continue
            name, value = item
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, Parameter):
                if value.name is None:
                    value.name = prefixes[-1] + name
                yield prefixes[-1] + name, value
            else:
                stack.append(iter(value._direct()))
                prefixes.append(f"{prefixes[-1]}{name}.")

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter, each once, in attribute order."""
        for _, param in self.named_parameters():
            yield param

    # ----- training -----
    def zero_grad(self) -> None:
        """Forget accumulated gradients (``.grad = None``, so the next backward starts afresh)."""
        for param in self.parameters():
            param.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout on) here and in every submodule; returns self."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (dropout off) here and in every submodule; returns self."""
        return self.train(False)

    # ----- state -----
    def state_dict(self) -> dict[str, np.ndarray]:
        """Dotted parameter name -> a copy of its array."""
        return {name: param.data.copy() for name, param in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy ``state`` into the parameters in place; shapes and dtypes must match exactly.

        With ``strict`` (the default) missing or unexpected names are errors too; without, they are
        skipped and returned. Nothing is changed unless every entry fits.
        """
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state]
        unexpected = [name for name in state if name not in params]
        problems = []
        if strict and missing:
            problems.append(f"missing: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected: {', '.join(unexpected)}")
        values = {}
        for name, param in params.items():
            if name not in state:
                continue
            value = state[name]
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.shape != param.shape:
                problems.append(f"{name}: shape {value.shape}, the module has {param.shape}")
            elif value.dtype != param.dtype:
                problems.append(f"{name}: dtype {value.dtype}, the module has {param.dtype}")
            else:
                values[name] = value
        if problems:
            raise StateDictError(
                f"state dict does not fit {type(self).__name__}: " + "; ".join(problems)
                + " (build the module with the configuration the state was saved with)"
            )
        for name, value in values.items():
            np.copyto(params[name].data, value)
        return IncompatibleKeys(missing, unexpected)

    # ----- display -----
    def extra_repr(self) -> str:
        """Arguments shown in ``repr``; layers override it."""
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")


class ModuleList(Module):
    """A list of modules whose parameters are found (names "0", "1", ...)."""

    def __init__(self, modules: Any = ()) -> None:
        super().__init__()
        self._items: list[Module] = []
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds Modules, not {type(module).__name__}")
        self._items.append(module)
        return self

    def __getitem__(self, index: int) -> Module:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)

    def _direct(self) -> Iterator[tuple[str, Any]]:
        for i, module in enumerate(self._items):
            yield str(i), module
        for name, value in super()._direct():  # what a subclass adds beside the items
            if not name.startswith("_items."):
                yield name, value
