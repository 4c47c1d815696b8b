"""JSON Schema from type hints, for each kind of hint a tool's parameter can have."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, Optional, TypedDict

import attrs
import pytest

from realtalk.errors import ConfigurationError
from realtalk.tools import parameters_schema, schema_for


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 3


class Address(TypedDict):
    street: str
    city: Annotated[str, "the town"]


class PartialAddress(TypedDict, total=False):
    street: str


@attrs.frozen
class Slot:
    day: Literal["fri", "sat"]
    seats: int = 2


@pytest.mark.parametrize(("hint", "schema"), [
    (str, {"type": "string"}),
    (int, {"type": "integer"}),
    (float, {"type": "number"}),
    (bool, {"type": "boolean"}),
    (type(None), {"type": "null"}),
    (Any, {}),
    (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
    (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
    (Literal["a", 1], {"enum": ["a", 1]}),
    (Color, {"type": "string", "enum": ["red", "green"]}),
    (Size, {"type": "integer", "enum": [1, 3]}),
    (Optional[str], {"type": ["string", "null"]}),  # noqa: UP045 (the spelling is the test)
    (str | None, {"type": ["string", "null"]}),
    (Literal["a"] | None, {"type": ["string", "null"], "enum": ["a", None]}),
    (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    (list[int], {"type": "array", "items": {"type": "integer"}}),
    (tuple[str, ...], {"type": "array", "items": {"type": "string"}}),
    (Sequence[bool], {"type": "array", "items": {"type": "boolean"}}),
    (list, {"type": "array", "items": {}}),
    (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
    (Annotated[int, "how many"], {"type": "integer", "description": "how many"}),
    (Address, {"type": "object", "properties": {
        "street": {"type": "string"},
        "city": {"type": "string", "description": "the town"}},
        "required": ["street", "city"], "additionalProperties": False}),
    (PartialAddress, {"type": "object", "properties": {"street": {"type": "string"}},
                      "required": [], "additionalProperties": False}),
    (Slot, {"type": "object", "properties": {
        "day": {"type": "string", "enum": ["fri", "sat"]}, "seats": {"type": "integer"}},
        "required": ["day"], "additionalProperties": False}),
])
def test_each_hint_has_its_schema(hint: object, schema: dict[str, Any]) -> None:
    assert schema_for(hint) == schema


@pytest.mark.parametrize("hint", [bytes, set[bytes], dict[int, str], tuple[int, str], object])
def test_a_type_no_json_value_holds_is_refused_when_declared(hint: object) -> None:
    with pytest.raises(ConfigurationError, match="when"):
        schema_for(hint, "when")


def test_parameters_are_required_unless_they_have_a_default_which_is_shown() -> None:
    def book(day: Literal["fri", "sat"], people: int = 2, note: str | None = None) -> str:
        return day

    assert parameters_schema(book) == {
        "type": "object", "additionalProperties": False, "required": ["day"],
        "properties": {"day": {"type": "string", "enum": ["fri", "sat"]},
                       "people": {"type": "integer", "default": 2},
                       "note": {"type": ["string", "null"], "default": None}}}


def test_descriptions_come_from_annotated_first_then_the_docstring() -> None:
    def f(a: Annotated[int, "from the hint"], b: int) -> None:
        """Do it."""

    schema = parameters_schema(f, {"a": "from the docstring", "b": "bee"})
    assert schema["properties"]["a"]["description"] == "from the hint"
    assert schema["properties"]["b"]["description"] == "bee"


@pytest.mark.parametrize("signature", ["untyped", "args", "kwargs", "positional"])
def test_parameters_the_model_cannot_name_are_refused(signature: str) -> None:
    def untyped(a) -> None:  # type: ignore[no-untyped-def]
        """Untyped."""

    def args(*a: int) -> None:
        """Variadic."""

    def kwargs(**a: int) -> None:
        """Keywords."""

    def positional(a: int, /) -> None:
        """Positional only."""

    functions: dict[str, Callable[..., Any]] = {
        "untyped": untyped, "args": args, "kwargs": kwargs, "positional": positional}
    function = functions[signature]
    with pytest.raises(ConfigurationError) as raised:
        parameters_schema(function)
    assert raised.value.argument == "a"
