"""Function calling on the embedded server: which tool a response calls, and with what.

The server has no language model, so a tool call is decided by a plain rule: a response calls
a declared function tool when the latest user message (a text item, or the transcript of a
spoken turn) names it, case-insensitively, with the name's underscores written as spaces or
underscores ("get weather" names ``get_weather``). ``tool_choice`` is honoured: ``"none"``
never calls, ``"required"`` always calls (the named tool, else the first one), and a named
function is always the one called.

- :func:`check_tools` validates the declared tools the way the hosted service does (a name
  the service accepts, ``parameters`` a JSON Schema of an object), naming the bad field.
- :func:`arguments_for` builds arguments from a tool's schema: each property's ``default``,
  else its ``const`` or first ``enum`` value, else a placeholder of its type (``"example"``,
  ``1``, ``1.0``, ``true``, ``[]``, or an object built the same way); required properties are
  always present.
- :class:`ArgumentStream` releases the arguments as a few deltas, on the cadence audio chunks
  are generated.
- :func:`quote_outputs` is the spoken reply to the outputs a client sent back.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

import attrs

from .items import RequestError
from .playout import Schedule

__all__ = ("ArgumentStream", "FunctionTool", "arguments_for", "check_tools", "choose_tool",
           "declared_tools", "mentions", "quote_outputs")

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TYPES = ("object", "string", "integer", "number", "boolean", "array", "null")
_PLACEHOLDERS: dict[str, Any] = {"string": "example", "integer": 1, "number": 1.0,
                                 "boolean": True, "null": None}
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf")
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
# What a $ref back into itself builds (a tree node holding nodes would build forever): an
# optional property is left out, a required one is an empty object.
_CYCLE = object()
_DELTA_CHARS = 12  # argument characters per delta: a few deltas for a typical call
_QUOTE_CHARS = 200  # of each output, in a spoken reply


@attrs.frozen
class FunctionTool:
    """A declared function tool: its name and its parameters' JSON Schema."""

    name: str
    parameters: Mapping[str, Any] = attrs.field(factory=dict)


def declared_tools(tools: object) -> tuple[FunctionTool, ...]:
    """The function tools of a session's (or a response's) already validated ``tools``."""
    if not isinstance(tools, list):
        return ()
    return tuple(FunctionTool(tool["name"], tool.get("parameters") or {}) for tool in tools
                 if isinstance(tool, Mapping) and isinstance(tool.get("name"), str))


def check_tools(tools: object, tool_choice: object, path: str) -> None:
    """Check what the field-by-field checks cannot: tool names, their parameters' schemas, and
    that a named ``tool_choice`` names a declared tool. ``path`` is ``session`` or
    ``response``.

    Raises:
        RequestError: ``param`` names the bad field (e.g.
            ``session.tools[0].parameters.properties.city.type``).
    """
    names: list[str] = []
    for index, tool in enumerate(tools if isinstance(tools, list) else ()):
        where = f"{path}.tools[{index}]"
        name = tool.get("name")
        if not isinstance(name, str):
            raise RequestError(f"Missing required parameter: '{where}.name'.", f"{where}.name",
                               "missing_required_parameter")
        if not _NAME.fullmatch(name):
            raise RequestError(f"Invalid '{where}.name': {name!r} does not match pattern. "
                               f"Expected a string that matches the pattern "
                               f"'^[a-zA-Z0-9_-]{{1,64}}$'.", f"{where}.name")
        parameters = tool.get("parameters", {})
        _check_schema(parameters, parameters, f"{where}.parameters", name)
        kind = parameters.get("type", "object")
        if kind != "object":
            raise RequestError(f"Invalid schema for function {name!r}: "
                               f"'{where}.parameters.type' must be 'object' (parameters are "
                               f"a JSON Schema of an object), got {kind!r}.",
                               f"{where}.parameters.type")
        names.append(name)
    wanted = _named_choice(tool_choice)
    if wanted is not None and wanted not in names:
        param = f"{path}.tool_choice.name" if isinstance(tool_choice, Mapping) \
            else f"{path}.tool_choice"
        raise RequestError(f"Invalid value for '{param}': function {wanted!r} is not among the "
                           f"declared tools {names}.", param)


def _named_choice(tool_choice: object) -> str | None:
    """The function a ``tool_choice`` names (GA ``{"type": "function", "name": ...}``, beta a
    plain name), or ``None`` for ``auto`` / ``none`` / ``required``."""
    if isinstance(tool_choice, Mapping):
        name = tool_choice.get("name")
        return name if isinstance(name, str) else None
    if isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required"):
        return tool_choice
    return None


def _check_schema(schema: object, root: Mapping[str, Any], path: str, tool: str) -> None:
    """Raise :class:`RequestError` at the first malformed part of a JSON Schema."""
    def bad(where: str, expected: str, value: object) -> RequestError:
        shown = json.dumps(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return RequestError(f"Invalid schema for function {tool!r}: '{where}' must be "
                            f"{expected}, got {shown}.", where)

    if isinstance(schema, bool):  # true / false are schemas (anything / nothing)
        return
    if not isinstance(schema, Mapping):
        raise bad(path, "a JSON Schema (an object or a boolean)", schema)
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    if kind is not None and (not kinds or any(k not in _TYPES for k in kinds)):
        raise bad(f"{path}.type", f"one of {list(_TYPES)} or a non-empty list of them", kind)
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise bad(f"{path}.required", "a list of property names", required)
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        raise bad(f"{path}.enum", "a non-empty list", schema["enum"])
    ref = schema.get("$ref")
    if ref is not None:
        if not isinstance(ref, str):
            raise bad(f"{path}.$ref", "a string", ref)
        if _resolve(ref, root) is None:
            raise bad(f"{path}.$ref", "a reference into this schema ('#/$defs/...')", ref)
    for key in _SCHEMA_MAPS:
        children = schema.get(key, {})
        if not isinstance(children, Mapping):
            raise bad(f"{path}.{key}", "an object of schemas", children)
        for name, child in children.items():
            _check_schema(child, root, f"{path}.{key}.{name}", tool)
    for key in filter(schema.__contains__, _SUBSCHEMA_LISTS):
        options = schema[key]
        if not isinstance(options, list) or not options:
            raise bad(f"{path}.{key}", "a non-empty list of schemas", options)
        for index, option in enumerate(options):
            _check_schema(option, root, f"{path}.{key}[{index}]", tool)
    for key in ("items", "additionalProperties"):
        if key in schema:
            _check_schema(schema[key], root, f"{path}.{key}", tool)


def _resolve(ref: str, root: Mapping[str, Any]) -> object | None:
    """The schema a local ``$ref`` (a JSON pointer into ``root``) points at, or ``None``."""
    if not ref.startswith("#"):
        return None
    node: object = root
    for token in filter(None, ref[1:].split("/")):
        key = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, (Mapping, bool)) else None


def arguments_for(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments that fit a tool's (validated) parameters schema (see the module docstring)."""
    value = _value(schema, schema, frozenset())
    return value if isinstance(value, dict) else {}


def _value(schema: object, root: Mapping[str, Any], refs: frozenset[str]) -> Any:
    """A value for ``schema``; ``refs`` are the references being expanded around it."""
    if not isinstance(schema, Mapping):
        return _PLACEHOLDERS["string"]  # a boolean schema: anything fits
    if "$ref" in schema:
        ref = schema["$ref"]
        return _CYCLE if ref in refs else _value(_resolve(ref, root), root, refs | {ref})
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in _SUBSCHEMA_LISTS:
        if key in schema:
            options = schema[key]
            # An optional value is spelled anyOf [X, null]: build the X.
            chosen = next((o for o in options if not _is_null(o)), options[0])
            return _value(chosen, root, refs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = schema.get("required", [])
        value = {}
        for name, child in properties.items():
            built = _value(child, root, refs)
            if built is not _CYCLE:
                value[name] = built
            elif name in required:
                value[name] = {}
        for name in required:
            value.setdefault(name, _PLACEHOLDERS["string"])
        return value
    if kind in ("integer", "number"):
        return _within(_PLACEHOLDERS[kind], schema, integer=kind == "integer")
    if kind == "array":
        return []
    return _PLACEHOLDERS.get(kind or "string", _PLACEHOLDERS["string"])


def _is_null(schema: object) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _within(number: float, schema: Mapping[str, Any], *, integer: bool) -> float:
    """``number`` moved into the schema's ``minimum`` / ``maximum``, if it has them, so the
    placeholder passes a client's own check of the arguments."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if _is_number(low):
        number = max(number, math.ceil(low) if integer else float(low))
    if _is_number(high):
        number = min(number, math.floor(high) if integer else float(high))
    return number


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def mentions(name: str, text: str) -> bool:
    """Whether ``text`` names the tool ``name`` (case-insensitive, ``_`` as ``_`` or space)."""
    words = "[_ ]".join(re.escape(part) for part in name.split("_"))
    return re.search(rf"(?<![A-Za-z0-9]){words}(?![A-Za-z0-9])", text, re.IGNORECASE) is not None


def choose_tool(tools: Sequence[FunctionTool], tool_choice: object, request: str,
                *, answered: bool) -> FunctionTool | None:
    """The tool a response calls, if any.

    Args:
        tools: the declared tools.
        tool_choice: ``"auto"``, ``"none"``, ``"required"``, or a named function.
        request: the latest user message's text.
        answered: whether a function call already followed that message (under ``auto`` a
            request is answered by one call; the response after its output speaks).
    """
    if not tools or tool_choice == "none":
        return None
    wanted = _named_choice(tool_choice)
    if wanted is not None:
        return next((tool for tool in tools if tool.name == wanted), None)
    named = next((tool for tool in tools if mentions(tool.name, request)), None)
    if tool_choice == "required":
        return named or tools[0]
    return None if answered else named


class ArgumentStream:
    """A function call's JSON arguments, released as a few deltas on the schedule audio chunks
    of a response would have (see :meth:`.Schedule.for_response`)."""

    def __init__(self, arguments: str, *, start: float, first_latency_ms: float, chunk_ms: int,
                 generation_speed: float) -> None:
        self._pieces = [arguments[i : i + _DELTA_CHARS]
                        for i in range(0, len(arguments), _DELTA_CHARS)] or [""]
        self.schedule = Schedule.for_response(
            len(self._pieces), start=start, first_latency_ms=first_latency_ms,
            chunk_ms=chunk_ms, generation_speed=generation_speed)

    def release(self, now: float) -> list[str]:
        """The deltas due by ``now`` that were not released yet, in order."""
        return [self._pieces[index] for index in self.schedule.release(now)]


def quote_outputs(outputs: Sequence[tuple[str, str]]) -> str:
    """The spoken reply to function outputs, ``(tool name, output)`` in conversation order:
    each quoted, whitespace collapsed and cut to a speakable length."""
    sentences = []
    for name, output in outputs:
        text = " ".join(output.split()).rstrip(".")
        end = "."
        if len(text) > _QUOTE_CHARS:
            text, end = text[:_QUOTE_CHARS].rsplit(" ", 1)[0], "..."
        sentences.append(f"The {name} tool answered: {text}{end}" if text
                         else f"The {name} tool answered with nothing.")
    return " ".join(sentences)
