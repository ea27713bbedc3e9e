"""The table of primitives: one decorator records an op, names it for export and binds it onto Tensor.

A primitive computes its forward value with NumPy and returns ``make(value, parents, rule, name)``; the rule
turns the upstream gradient into one downstream gradient per parent (see ``make``). Decorating it with
``@primitive(...)`` is the only other step:

    @primitive(method="softplus")
    def softplus(x: Tensor) -> Tensor:  # log(1 + e^x); local Jacobian: diag(sigmoid(x))
        slope = 0.5 * (1 + np.tanh(0.5 * x.data))
        return make(np.logaddexp(0, x.data), (x,), lambda g: (g * slope,), "softplus")

The decorator returns the function itself, not a wrapper, and binds that same function onto Tensor:
``Tensor.__add__ is ops.add``, so an operator costs no extra call. The engine's own modules derive their
``__all__`` from this table (``exported``), and its gradient-check test requires a case for every entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from window_ner.autodiff.tensor import Tensor

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = ["PRIMITIVES", "Primitive", "RegistrationError", "exported", "primitive", "unregister"]


class RegistrationError(ValueError):
    """A primitive's name, alias or Tensor binding is already taken."""


@dataclass(frozen=True)
class Primitive:
    """One entry of the table: the op and the names it is known by."""

    name: str
    fn: Callable[..., Tensor]
    module: str
    methods: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    reflected: str | None = None
    attribute: str | None = None
    varargs: bool = False
    aliases: tuple[str, ...] = ()
    composite: bool = False
    export: bool = True

    @property
    def bindings(self) -> tuple[str, ...]:
        """Every Tensor attribute this primitive is bound to."""
        extra = tuple(name for name in (self.reflected, self.attribute) if name is not None)
        return self.methods + self.operators + extra


_table: dict[str, Primitive] = {}
_names: dict[str, str] = {}  # every name and alias -> the primitive it belongs to
_owners: dict[str, str] = {}  # every Tensor attribute bound here -> the primitive bound to it

PRIMITIVES: Mapping[str, Primitive] = MappingProxyType(_table)  # read-only and live


def _names_of(names: str | Sequence[str]) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and len(name) > 4


def _validate(entry: Primitive, override: bool) -> None:
    """Raise RegistrationError if a name or binding of ``entry`` is taken (its own old entry aside when
    ``override``), ValueError if a binding is malformed."""
    for name in entry.methods + ((entry.attribute,) if entry.attribute else ()):
        if not name.isidentifier() or _is_dunder(name):
            raise ValueError(f"primitive {entry.name!r}: {name!r} is not a method name (operators go in operator=)")
    for name in entry.operators + ((entry.reflected,) if entry.reflected else ()):
        if not _is_dunder(name):
            raise ValueError(f"primitive {entry.name!r}: operator {name!r} is not a special method such as '__add__'")
    if entry.varargs and not entry.methods:
        raise ValueError(f"primitive {entry.name!r}: varargs=True needs a method to bind")
    replaced = entry.name if override else None
    for name in (entry.name, *entry.aliases):
        owner = _names.get(name)
        if owner is not None and owner != replaced:
            raise RegistrationError(
                f"a primitive named {name!r} is already registered (by {_table[owner].module}.{owner}): pass "
                "override=True to replace it, or choose another name"
            )
    bindings = entry.bindings
    if len(set(bindings)) != len(bindings):
        raise ValueError(f"primitive {entry.name!r} binds the same Tensor attribute twice: {bindings}")
    for attr in bindings:
        owner = _owners.get(attr)
        if owner is None and hasattr(Tensor, attr):
            raise RegistrationError(f"Tensor.{attr} is part of Tensor itself: a primitive cannot be bound over it")
        if owner is not None and owner != replaced:
            raise RegistrationError(
                f"Tensor.{attr} is already bound to the primitive {owner!r}: unregister({owner!r}) first"
            )


def _reflected(fn: Callable[..., Tensor], attr: str) -> Callable[[Tensor, Any], Tensor]:
    def swapped(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)

    swapped.__name__, swapped.__qualname__ = attr, f"Tensor.{attr}"
    swapped.__doc__ = f"``other`` first, ``self`` second: {fn.__name__}(other, self)."
    return swapped


def _varargs(fn: Callable[..., Tensor], attr: str) -> Callable[..., Tensor]:
    def method(self: Tensor, *args: Any) -> Tensor:
        return fn(self, args[0] if len(args) == 1 and not isinstance(args[0], int) else args)

    method.__name__, method.__qualname__ = attr, f"Tensor.{attr}"
    method.__doc__ = f"{fn.__doc__ or fn.__name__}\n\nAs a method: t.{attr}(seq) or t.{attr}(*seq)."
    return method


def _bind(entry: Primitive) -> None:
    for attr in entry.methods:
        setattr(Tensor, attr, _varargs(entry.fn, attr) if entry.varargs else entry.fn)
    for attr in entry.operators:
        setattr(Tensor, attr, entry.fn)
    if entry.reflected is not None:
        setattr(Tensor, entry.reflected, _reflected(entry.fn, entry.reflected))
    if entry.attribute is not None:
        setattr(Tensor, entry.attribute, property(entry.fn))
    for attr in entry.bindings:
        _owners[attr] = entry.name


def primitive(
    name: str | None = None,
    *,
    method: str | Sequence[str] = (),
    operator: str | Sequence[str] = (),
    reflected: str | None = None,
    attribute: str | None = None,
    varargs: bool = False,
    aliases: Sequence[str] = (),
    composite: bool = False,
    export: bool = True,
    override: bool = False,
) -> Callable[[_F], _F]:
    """Register the decorated op under ``name`` (default: the function's name) and bind it onto Tensor.

    - ``method``: Tensor method name(s) bound to the function itself: ``t.tanh()`` is ``tanh(t)``.
    - ``operator``: special method(s) bound to the function itself: ``Tensor.__add__ is add``.
    - ``reflected``: the operator with the operands swapped, for ``2 + t``: ``__radd__(t, o)`` is ``add(o, t)``.
    - ``attribute``: a read-only property computing ``fn(t)``, as ``t.T``.
    - ``varargs``: the methods also take the op's sequence argument spread out: ``t.reshape(2, 3)``.
    - ``aliases``: further exported names of the same function (``expand`` for ``broadcast_to``).
    - ``composite``: built from other primitives, with no gradient code of its own.
    - ``export``: list the op in ``exported()``, from which the engine's modules derive their ``__all__``.
    - ``override``: replace an entry of the same name (and its bindings) instead of refusing it.

    A name, alias or Tensor binding that is already taken raises ``RegistrationError`` (a ValueError), as
    does binding over one of Tensor's own attributes (``shape``, ``__eq__``, ...). Returns the function
    unchanged. Only the table and Tensor change on override: names imported earlier keep the old function.
    """

    if callable(name):
        raise TypeError("primitive is a decorator factory: write @primitive() or @primitive(method=...)")

    def register(fn: _F) -> _F:
        entry = Primitive(
            name=fn.__name__ if name is None else name, fn=fn, module=fn.__module__,
            methods=_names_of(method), operators=_names_of(operator), reflected=reflected, attribute=attribute,
            varargs=varargs, aliases=tuple(aliases), composite=composite, export=export,
        )
        _validate(entry, override)
        if entry.name in _table:  # only reached with override=True
            unregister(entry.name)
        _table[entry.name] = entry
        for alias in (entry.name, *entry.aliases):
            _names[alias] = entry.name
        _bind(entry)
        return fn

    return register


def unregister(name: str) -> Primitive:
    """Remove a primitive from the table and its bindings from Tensor; return its entry."""
    try:
        entry = _table.pop(name)
    except KeyError:
        raise KeyError(f"no primitive named {name!r} is registered") from None
    for alias in (entry.name, *entry.aliases):
        del _names[alias]
    for attr in entry.bindings:
        del _owners[attr]
        delattr(Tensor, attr)
    return entry


def exported(*modules: str) -> dict[str, Callable[..., Tensor]]:
    """Name -> function for every exported primitive and alias, in order of registration; only those
    defined in ``modules`` (module names) when any are given."""
    return {
        alias: entry.fn
        for entry in _table.values()
        if entry.export and (not modules or entry.module in modules)
        for alias in (entry.name, *entry.aliases)
    }
