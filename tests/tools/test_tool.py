"""Tools: declared from a function, their arguments checked and converted before a call."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import attrs
import pytest

import realtalk
from realtalk.errors import ConfigurationError
from realtalk.tools import Tool, ToolArgumentsError, tool


class Meal(enum.Enum):
    LUNCH = "lunch"
    DINNER = "dinner"


@attrs.frozen
class Party:
    adults: int
    children: int = 0


@tool
def book_table(day: Literal["friday", "saturday"], meal: Meal, party: Party,
               price: float = 20.0, note: str | None = None) -> str:
    """Book a table at the restaurant.

    More detail that the model does not need.

    Args:
        day: the day to book,
            this week only.
        meal: which service.
        party: who comes.
    """
    return f"{day} {meal.value} for {party.adults + party.children} at {price}"


def test_name_description_and_schema_come_from_the_function() -> None:
    assert isinstance(book_table, Tool)
    definition = book_table.definition()
    assert definition["type"] == "function"
    assert definition["name"] == "book_table"
    assert definition["description"] == "Book a table at the restaurant."
    properties = definition["parameters"]["properties"]
    assert properties["day"]["description"] == "the day to book, this week only."
    assert properties["meal"] == {"type": "string", "enum": ["lunch", "dinner"],
                                  "description": "which service."}
    assert definition["parameters"]["required"] == ["day", "meal", "party"]
    assert not book_table.is_async


def test_arguments_are_converted_to_the_hints_types() -> None:
    kwargs = book_table.parse(
        '{"day": "friday", "meal": "dinner", "party": {"adults": 2, "children": 1}, '
        '"price": 30}')
    assert kwargs == {"day": "friday", "meal": Meal.DINNER, "party": Party(2, 1), "price": 30.0}
    assert isinstance(kwargs["price"], float)
    assert book_table(**kwargs) == "friday dinner for 3 at 30.0"


@pytest.mark.parametrize(("arguments", "problems"), [
    ("{not json", ["arguments: frame is not valid JSON"]),
    ("[1, 2]", ["arguments: expected an object, got [1, 2]"]),
    ('{"day": "sunday", "meal": "lunch", "party": {"adults": 1}}',
     ["arguments.day: expected one of 'friday', 'saturday', got 'sunday'"]),
    ('{"meal": "brunch", "party": {"adults": "two"}, "tip": 5}',
     ["arguments.day: required, missing", "arguments.meal: expected one of",
      "arguments.party.adults: expected an integer, got 'two'",
      "arguments.tip: not a parameter"]),
    ('{"day": "friday", "meal": "lunch", "party": {"adults": true}}',
     ["arguments.party.adults: expected an integer, got true"]),
])
def test_bad_arguments_say_every_problem_with_its_path(arguments: str,
                                                        problems: list[str]) -> None:
    with pytest.raises(ToolArgumentsError) as raised:
        book_table.parse(arguments)
    assert len(raised.value.problems) == len(problems)
    for said, expected in zip(raised.value.problems, problems, strict=True):
        assert said.startswith(expected), said
    assert "book_table" in str(raised.value)


def test_an_integral_float_is_an_integer_and_empty_arguments_are_an_empty_object() -> None:
    @tool
    def count(n: int = 1) -> int:
        """Count."""
        return n

    assert count.parse('{"n": 3.0}') == {"n": 3}
    assert isinstance(count.parse('{"n": 3.0}')["n"], int)
    assert count.parse("") == {}
    with pytest.raises(ToolArgumentsError, match=r"expected an integer, got 3\.5"):
        count.parse('{"n": 3.5}')


async def _lookup(order_id: Annotated[str, "the order number"]) -> str:
    return order_id


def test_options_and_async_functions() -> None:
    made = tool(name="lookup_order", description="Find an order.", timeout_s=5.0,
                on_interrupt="cancel")(_lookup)
    assert made.name == "lookup_order" and made.description == "Find an order."
    assert made.timeout_s == 5.0 and made.on_interrupt == "cancel"
    assert made.is_async
    assert made.parameters["properties"]["order_id"]["description"] == "the order number"


def test_an_explicit_schema_is_used_and_still_checked() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"],
              "additionalProperties": False}
    made = tool(name="search", parameters=schema)(lambda **kwargs: kwargs)
    assert made.parameters is schema
    assert made.parse('{"q": "x"}') == {"q": "x"}
    with pytest.raises(ToolArgumentsError, match="required"):
        made.parse("{}")


@pytest.mark.parametrize(("options", "argument"), [
    ({"name": "has space"}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"timeout_s": 0}, "timeout_s"),
    ({"on_interrupt": "ignore"}, "on_interrupt"),
    ({"parameters": {"type": "array"}}, "parameters"),
])
def test_bad_options_are_configuration_errors_naming_them(options: dict[str, object],
                                                          argument: str) -> None:
    def f() -> None:
        """F."""

    with pytest.raises(ConfigurationError) as raised:
        tool(**options)(f)  # type: ignore[call-overload]
    assert raised.value.argument == argument


def test_the_decorator_is_exported_at_the_top() -> None:
    assert realtalk.tool is tool
    assert realtalk.Tool is Tool
