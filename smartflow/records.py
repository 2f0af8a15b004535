"""`record`: `dataclasses.dataclass`, cheaper to define.

Python 3.11 writes every method a dataclass generates as source text and compiles it, a class at a
time: `__init__`, `__repr__`, `__eq__`, and for a frozen class `__hash__`, `__setattr__` and
`__delattr__`. That is about 0.07 ms a method, 0.3–0.7 ms a class: a `smartflow item list` defined 37
of ours before it read a row, 20 ms of a command whose floor (importing SQLAlchemy and opening the
database) is about 210 ms. `record` generates only what must be written per class (`__init__`, and the
frozen class's guards) and gives every class the same `__repr__`, `__eq__` and `__hash__`, which read
the class's fields (`dataclasses.fields`) when first used. They behave as the generated ones do:

- `__eq__`: equal when of the very same class and their compared fields (`field(compare=...)`) are
  equal, in order (NotImplemented for another class);
- `__hash__`: a frozen record hashes its hashed fields (`field(hash=...)`, else the compared ones);
  a record that is not frozen is unhashable, as a dataclass with `eq=True` is;
- `__repr__`: `Name(a=1, b='x')` over the fields shown (`field(repr=...)`), guarded against a cycle.

A method the class defines itself is kept, as dataclass keeps it. Everything else is the dataclass's:
`dataclasses.fields`, `replace`, `asdict`, `is_dataclass`, `__match_args__`, `kw_only`, defaults.
`tests/test_records.py` checks each against a real dataclass of the same fields.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T", bound=type)

_KEYS: dict[tuple[type, str], Callable[[Any], tuple[Any, ...]]] = {}


def _getter(cls: type, use: str) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of a record's compared (use "compare") or hashed (use "hash") fields, built once per class."""
    found = _KEYS.get((cls, use))
    if found is None:
        fields = dataclasses.fields(cls)
        if use == "hash":
            names = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
        else:
            names = [f.name for f in fields if f.compare]
        if not names:
            found = lambda _record: ()  # noqa: E731
        elif len(names) == 1:
            one = attrgetter(names[0])
            found = lambda record: (one(record),)  # noqa: E731
        else:
            found = attrgetter(*names)
        _KEYS[(cls, use)] = found
    return found


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = _getter(self.__class__, "compare")
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(_getter(self.__class__, "hash")(self))


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.repr)
    return f"{self.__class__.__qualname__}({shown})"


def _make(cls: T, frozen: bool, kw_only: bool) -> T:
    own = cls.__dict__
    # as dataclass reads it: a class that defines __eq__ alone gets __hash__ = None from Python itself
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    defines_eq = "__eq__" in own
    defines_repr = "__repr__" in own
    made = dataclasses.dataclass(cls, repr=False, eq=False, frozen=frozen, kw_only=kw_only)
    if not defines_repr:
        made.__repr__ = _repr  # type: ignore[assignment]
    if not defines_eq:
        made.__eq__ = _eq  # type: ignore[assignment]
    if not explicit_hash:
        made.__hash__ = _hash if frozen else None  # type: ignore[assignment]
    return made


@overload
@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: T, /) -> T: ...


@overload
def record(*, frozen: bool = False, kw_only: bool = False) -> Callable[[T], T]: ...


def record(cls: T | None = None, /, *, frozen: bool = False, kw_only: bool = False) -> Any:
    """`@dataclass`, `@dataclass(frozen=True)`, `@dataclass(kw_only=True)`, with shared `__repr__`,
    `__eq__` and `__hash__` (see the module's docstring)."""
    if cls is None:
        return lambda cls: _make(cls, frozen, kw_only)
    return _make(cls, frozen, kw_only)
