"""A tool call's arguments: decoded, checked against the schema with every problem named by its
path, and converted to what the function's hints say."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import attrs
import pytest

from realtalk.errors import RealtalkError
from realtalk.tools.arguments import ToolArgumentsError, check, convert, decode_arguments
from realtalk.tools.schema import JSONSchema

SCHEMA: JSONSchema = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "unit": {"enum": ["c", "f"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["city"],
    "additionalProperties": False,
}


def test_good_arguments_decode_to_their_object() -> None:
    assert decode_arguments("weather", '{"city": "Oslo", "days": 3.0, "tags": ["a"]}',
                            SCHEMA) == {"city": "Oslo", "days": 3.0, "tags": ["a"]}


def test_empty_arguments_are_an_empty_object() -> None:
    assert decode_arguments("ping", "  ", {"type": "object", "properties": {}}) == {}


def test_every_problem_is_named_with_its_path_at_once() -> None:
    text = '{"days": true, "unit": "k", "tags": ["a", 2], "note": 5, "extra": 1}'
    with pytest.raises(ToolArgumentsError) as raised:
        decode_arguments("weather", text, SCHEMA)
    assert raised.value.problems == [
        "arguments.city: required, missing",
        "arguments.days: expected an integer, got true",
        "arguments.unit: expected one of 'c', 'f', got 'k'",
        "arguments.tags[1]: expected a string, got 2",
        "arguments.note: 5 fits none of the allowed types",
        "arguments.extra: not a parameter (allowed: city, days, unit, tags, note)",
    ]
    assert str(raised.value).startswith("invalid arguments for weather: arguments.city: ")
    assert isinstance(raised.value, RealtalkError) and isinstance(raised.value, ValueError)


@pytest.mark.parametrize(("text", "problem"), [
    ("{not json", "arguments: "),
    ("[1, 2]", "arguments: expected an object, got [1, 2]"),
])
def test_text_that_is_no_json_object_is_refused(text: str, problem: str) -> None:
    with pytest.raises(ToolArgumentsError, match="invalid arguments for weather") as raised:
        decode_arguments("weather", text, SCHEMA)
    (only,) = raised.value.problems
    assert only.startswith(problem)


def test_json_numbers_and_booleans_are_told_apart() -> None:
    assert check(True, {"type": "number"}, "x") == ["x: expected a number, got true"]
    assert check(2.5, {"type": "integer"}, "x") == ["x: expected an integer, got 2.5"]
    assert check(2.0, {"type": "integer"}, "x") == []
    assert check(1, {"enum": [1.0]}, "x") == []  # 1 and 1.0 are the same JSON number
    assert check(True, {"enum": [1]}, "x") == ["x: expected one of 1, got true"]


def test_values_of_an_open_object_are_checked_against_additional_properties() -> None:
    schema: JSONSchema = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert check({"a": 1, "b": "2"}, schema, "counts") == [
        "counts.b: expected an integer, got '2'"]


def test_a_long_value_is_shortened_in_a_message() -> None:
    (problem,) = check("x" * 100, {"type": "integer"}, "v")
    assert problem == "v: expected an integer, got '" + "x" * 56 + "..."


class Unit(enum.Enum):
    C = "c"
    F = "f"


@attrs.frozen
class Place:
    city: str
    unit: Unit


def test_values_become_what_the_hints_say() -> None:
    assert convert("f", Unit) is Unit.F
    assert convert(3, float) == 3.0 and isinstance(convert(3, float), float)
    assert convert(3.0, int) == 3 and isinstance(convert(3.0, int), int)
    assert convert([1, 2], tuple[float, ...]) == (1.0, 2.0)
    assert convert({"city": "Oslo", "unit": "c"}, Place) == Place("Oslo", Unit.C)
    assert convert({"a": "c"}, dict[str, Unit]) == {"a": Unit.C}
    assert convert(["c", "f"], list[Annotated[Unit, "unit"]]) == [Unit.C, Unit.F]
    assert convert(None, Unit | None) is None
    assert convert("c", Unit | None) is Unit.C
    anything: Any = {"raw": [1]}
    assert convert(anything, Any) == anything
