"""Tests for realtalk.server.function_calls: choosing a tool, its arguments, their stream."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from realtalk.server.function_calls import (
    ArgumentStream,
    FunctionTool,
    arguments_for,
    check_tools,
    choose_tool,
    declared_tools,
    mentions,
    quote_outputs,
)
from realtalk.server.items import RequestError

WEATHER = FunctionTool("get_weather", {"type": "object", "properties": {}})
TIME = FunctionTool("time", {})
TOOLS = (WEATHER, TIME)


@pytest.mark.parametrize(("text", "named"), [
    ("What is the get_weather today?", True),
    ("please GET WEATHER for me", True),
    ("get weather", True),
    ("get-weather", False),  # only underscores may be spaces
    ("forget_weathers", False),  # a name inside a longer word is not the name
    ("the weather", False),
])
def test_mentions_matches_the_name_case_insensitively(text: str, named: bool) -> None:
    """A message names a tool when it holds the name, in any case, _ written as _ or space."""
    assert mentions("get_weather", text) is named


@pytest.mark.parametrize(("choice", "request_text", "answered", "called"), [
    ("auto", "get weather please", False, "get_weather"),
    ("auto", "what time is it", False, "time"),
    ("auto", "hello", False, None),
    ("auto", "get weather please", True, None),  # one call per request
    ("none", "get weather please", False, None),
    ("required", "hello", False, "get_weather"),  # nothing named: the first tool
    ("required", "what time is it", True, "time"),  # required calls every time
    ({"type": "function", "name": "time"}, "get weather", False, "time"),
    ("time", "hello", True, "time"),  # beta names a function by a plain string
])
def test_choose_tool_honours_tool_choice(choice: object, request_text: str, answered: bool,
                                         called: str | None) -> None:
    """auto calls a named tool once per request; none never; required and a named function
    always."""
    tool = choose_tool(TOOLS, choice, request_text, answered=answered)
    assert (tool.name if tool else None) == called


def test_choose_tool_without_tools_never_calls() -> None:
    """No tools, nothing to call, whatever tool_choice says."""
    assert choose_tool((), "required", "get weather", answered=False) is None


def test_arguments_follow_the_schema() -> None:
    """default, then const or the first enum value, then a placeholder of the type; nested
    objects built the same way; required names always present."""
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "default": 3},
            "kind": {"const": "daily"},
            "scale": {"type": "number"},
            "hourly": {"type": "boolean"},
            "hours": {"type": "array", "items": {"type": "integer"}},
            "where": {"type": "object", "properties": {"lat": {"type": "number"},
                                                       "named": {"type": ["string", "null"]}}},
            "note": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
            "nothing": {"type": "null"},
            "anything": {},
        },
        "required": ["city", "undeclared"],
    }
    assert arguments_for(schema) == {
        "city": "example", "unit": "celsius", "days": 3, "kind": "daily", "scale": 1.0,
        "hourly": True, "hours": [], "where": {"lat": 1.0, "named": "example"}, "note": 1,
        "nothing": None, "anything": "example", "undeclared": "example",
    }


def test_numbers_are_moved_into_their_bounds() -> None:
    """A placeholder outside minimum / maximum is moved in (integers to whole numbers)."""
    schema = {"properties": {"people": {"type": "integer", "minimum": 2.5},
                             "ratio": {"type": "number", "maximum": 0.5}}}
    assert arguments_for(schema) == {"people": 3, "ratio": 0.5}


def test_references_are_followed_and_cycles_stop() -> None:
    """Local $refs resolve; a reference back into itself leaves an optional property out and
    makes a required one an empty object."""
    schema = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {
            "label": {"type": "string"},
            "child": {"$ref": "#/$defs/Node"},
            "parent": {"$ref": "#/$defs/Node"}}, "required": ["parent"]}},
    }
    assert arguments_for(schema) == {"root": {"label": "example", "parent": {}}}


def test_empty_parameters_give_empty_arguments() -> None:
    """A tool without parameters is called with {}."""
    assert arguments_for({}) == {}
    assert arguments_for({"type": "object"}) == {}


def _tool(parameters: Any, name: str = "f") -> list[dict[str, Any]]:
    return [{"type": "function", "name": name, "parameters": parameters}]


@pytest.mark.parametrize(("tools", "choice", "code", "param"), [
    ([{"type": "function"}], "auto", "missing_required_parameter", "session.tools[0].name"),
    (_tool({}, name="two words"), "auto", "invalid_value", "session.tools[0].name"),
    (_tool({"type": "string"}), "auto", "invalid_value", "session.tools[0].parameters.type"),
    (_tool({"type": "object", "properties": {"a": {"type": "text"}}}), "auto",
     "invalid_value", "session.tools[0].parameters.properties.a.type"),
    (_tool({"properties": {"a": 3}}), "auto", "invalid_value",
     "session.tools[0].parameters.properties.a"),
    (_tool({"properties": []}), "auto", "invalid_value", "session.tools[0].parameters.properties"),
    (_tool({"required": "a"}), "auto", "invalid_value", "session.tools[0].parameters.required"),
    (_tool({"properties": {"a": {"enum": []}}}), "auto", "invalid_value",
     "session.tools[0].parameters.properties.a.enum"),
    (_tool({"properties": {"a": {"anyOf": {}}}}), "auto", "invalid_value",
     "session.tools[0].parameters.properties.a.anyOf"),
    (_tool({"properties": {"a": {"type": "array", "items": "int"}}}), "auto", "invalid_value",
     "session.tools[0].parameters.properties.a.items"),
    (_tool({"properties": {"a": {"$ref": "#/$defs/Missing"}}}), "auto", "invalid_value",
     "session.tools[0].parameters.properties.a.$ref"),
    (_tool({"properties": {"a": {"$ref": "https://example.com/schema"}}}), "auto",
     "invalid_value", "session.tools[0].parameters.properties.a.$ref"),
    (_tool({}), {"type": "function", "name": "g"}, "invalid_value", "session.tool_choice.name"),
    (_tool({}), "g", "invalid_value", "session.tool_choice"),
])
def test_check_tools_names_the_bad_field(tools: list[dict[str, Any]], choice: object, code: str,
                                         param: str) -> None:
    """A malformed tool is refused with the path of the field at fault, in the message too."""
    with pytest.raises(RequestError) as info:
        check_tools(tools, choice, "session")
    assert (info.value.code, info.value.param) == (code, param)
    assert param in str(info.value)


def test_check_tools_accepts_real_schemas() -> None:
    """Schemas as SDKs write them pass: boolean subschemas, $defs, additionalProperties."""
    check_tools(_tool({"type": "object", "properties": {
        "a": {"type": ["string", "null"]}, "b": {"$ref": "#/$defs/B"}, "c": True,
        "d": {"type": "object", "additionalProperties": {"type": "integer"}}},
        "$defs": {"B": {"enum": [1, 2]}}, "required": ["a"], "additionalProperties": False}),
        {"type": "function", "name": "f"}, "response")
    check_tools([], "required", "session")


def test_declared_tools_reads_names_and_parameters() -> None:
    """Each declared tool keeps its name and schema (none: an empty schema)."""
    assert declared_tools([{"type": "function", "name": "a", "parameters": {"type": "object"}},
                           {"name": "b"}]) == (FunctionTool("a", {"type": "object"}),
                                               FunctionTool("b", {}))
    assert declared_tools(None) == ()


def test_arguments_stream_in_a_few_deltas_on_the_audio_cadence() -> None:
    """Deltas start after the first-audio latency and follow every chunk_ms / speed; joined,
    they are the arguments."""
    arguments = json.dumps({"city": "example", "unit": "celsius"})
    stream = ArgumentStream(arguments, start=1.0, first_latency_ms=200, chunk_ms=100,
                            generation_speed=2.0)
    assert stream.release(1.19) == []
    first = stream.release(1.2)
    assert len(first) == 1
    rest = stream.release(10.0)
    assert 2 <= len(first + rest) <= 6
    assert "".join(first + rest) == arguments
    assert stream.schedule.finish_time() == pytest.approx(1.2 + (len(first + rest) - 1) * 0.05)


def test_empty_arguments_are_one_delta() -> None:
    """Even empty arguments are streamed once, so the call has a delta."""
    stream = ArgumentStream("", start=0.0, first_latency_ms=0, chunk_ms=100,
                            generation_speed=math.inf)
    assert stream.release(0.0) == [""]


def test_quote_outputs_in_order_and_trimmed() -> None:
    """Each output is quoted after its tool's name, in order; a long one is cut at a word."""
    long = "word " * 100
    reply = quote_outputs([("get_weather", "sunny,\n21 C."), ("time", ""), ("search", long)])
    first, second, third = reply.split(". The ")
    assert first == "The get_weather tool answered: sunny, 21 C"
    assert second == "time tool answered with nothing"
    assert third.startswith("search tool answered: word word")
    assert third.endswith("word...") and len(third) < 240
