"""`smartflow.records.record` behaves as `dataclasses.dataclass` does: each check builds the same class
both ways and compares what they do."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import FrozenInstanceError, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartflow.definitions.model import Field, Option, Text
from smartflow.records import record

VALUES = st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=3), st.floats(allow_nan=True),
                   st.tuples(st.integers(0, 2)), st.booleans())
# per field: (compare, hash, repr); hash None means "as compare"
OPTIONS = st.tuples(st.booleans(), st.sampled_from([None, True, False]), st.booleans())


def _twins(options: list[tuple[bool, bool | None, bool]], frozen: bool) -> tuple[type, type]:
    """The same class made by dataclass and by record."""
    def body() -> dict[str, Any]:
        names = [f"f{n}" for n in range(len(options))]
        namespace: dict[str, Any] = {"__annotations__": dict.fromkeys(names, "Any"), "__doc__": "twin"}
        for name, (compare, hashed, shown) in zip(names, options, strict=True):
            namespace[name] = field(default=None, compare=compare, hash=hashed, repr=shown)
        return namespace

    plain = dataclasses.dataclass(frozen=frozen)(type("Twin", (), body()))
    ours = record(frozen=frozen)(type("Twin", (), body()))
    return plain, ours


@given(st.lists(OPTIONS, max_size=4), st.booleans(), st.data())
def test_equality_hash_and_repr_are_the_dataclass_ones(options: list[Any], frozen: bool, data: Any) -> None:
    plain, ours = _twins(options, frozen)
    values = [data.draw(st.lists(VALUES, min_size=len(options), max_size=len(options))) for _ in range(2)]
    a, b = (plain(*v) for v in values)
    x, y = (ours(*v) for v in values)
    assert (x == y) is (a == b)
    assert (x != y) is (a != b)
    assert repr(x) == repr(a)
    assert ours.__eq__(x, object()) is NotImplemented
    if frozen:
        try:
            expected = hash(a)
        except TypeError:  # an unhashable value (none here, but a float list would be)
            return
        assert hash(x) == expected
        with pytest.raises(FrozenInstanceError):
            x.f0 = 1  # type: ignore[attr-defined]
    else:
        with pytest.raises(TypeError):
            hash(x)


def test_another_class_with_the_same_fields_is_not_equal() -> None:
    @record(frozen=True)
    class A:
        """one"""

        value: int

    @record(frozen=True)
    class B:
        """other"""

        value: int

    assert A(1) != B(1)
    assert A(1) == A(1)
    assert {A(1): "a"}[A(1)] == "a"


def test_methods_the_class_defines_are_kept() -> None:
    @record
    class Own:
        """defines its own"""

        value: int

        def __repr__(self) -> str:
            return "mine"

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 7

    assert repr(Own(1)) == "mine"
    assert Own(1) == Own(2)
    assert hash(Own(1)) == 7

    # __eq__ alone (Python then sets __hash__ to None): a frozen dataclass hashes its fields all the
    # same, one that is not frozen stays unhashable
    for frozen in (True, False):
        def only_eq(self: Any, other: object) -> bool:
            return False

        namespace = {"__annotations__": {"value": "int"}, "__eq__": only_eq, "__doc__": "eq alone"}
        plain = dataclasses.dataclass(frozen=frozen)(type("OnlyEq", (), dict(namespace)))
        ours = record(frozen=frozen)(type("OnlyEq", (), dict(namespace)))
        assert (ours.__hash__ is None) is (plain.__hash__ is None) is (not frozen)
        if frozen:
            assert hash(ours(1)) == hash(plain(1))
        assert ours(1) != ours(1)


def test_the_rest_is_the_dataclass_machinery() -> None:
    @record(kw_only=True)
    class Keyed:
        """keyword-only, with a factory"""

        name: str
        tags: list[str] = field(default_factory=list)

    with pytest.raises(TypeError):
        Keyed("x")  # type: ignore[misc]
    one = Keyed(name="x")
    assert dataclasses.is_dataclass(one)
    assert [f.name for f in dataclasses.fields(one)] == ["name", "tags"]
    assert dataclasses.asdict(dataclasses.replace(one, name="y")) == {"name": "y", "tags": []}
    assert one.tags is not Keyed(name="z").tags


def test_the_definition_model_compares_hashes_shows_and_pickles_by_value() -> None:
    title = Text.of({"ru": "Статус", "en": "Status"})
    made = [Field("status", "enum", title=title, options=(Option("new", Text.of("Новая")),)) for _ in range(2)]
    assert made[0] == made[1] and hash(made[0]) == hash(made[1])
    assert made[0] != dataclasses.replace(made[0], required=True)
    assert "Field(id='status', type='enum', title=Text(values=(('ru', 'Статус'), ('en', 'Status')))" in repr(made[0])
    assert pickle.loads(pickle.dumps(made[0])) == made[0]


def test_a_cycle_is_shown_not_followed() -> None:
    @record
    class Node:
        """refers to itself"""

        next: Any = None

    node = Node()
    node.next = node
    assert repr(node) == f"{Node.__qualname__}(next=...)"
