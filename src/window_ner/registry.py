"""Named components (heads, features, optimisers, schedules, activations): a config or a command-line option
names one, and the choices a parser offers are read from here, never copied."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from window_ner.errors import InputError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to components of one ``kind``, in the order they were registered.

    ``@REGISTRY.register("name")`` over a class or function adds it; ``REGISTRY.get(name)`` finds it, and an
    unknown name is an :class:`InputError` that lists the choices.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, *, override: bool = False) -> Callable[[T], T]:
        """A decorator that registers its argument under ``name`` and returns it unchanged."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} name must be a non-empty string, not {name!r}")

        def add(item: T) -> T:
            if name in self._items and not override:
                raise ValueError(f"a {self.kind} named {name!r} is registered already; choose another name, or "
                                 "pass override=True to replace it")
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        """The component registered as ``name``."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise InputError(f"unknown {self.kind} {name!r}; choose from {', '.join(self._items)}") from None

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._items)})"
