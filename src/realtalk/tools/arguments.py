"""A tool call's arguments: checked against the tool's JSON Schema, then made Python values.

The model writes a call's arguments as a JSON text. Before the function runs, they are
decoded (with the guarded decoder every peer's frames go through), checked against the
parameters' schema (:func:`check`: types, ``enum``, ``required``, no unknown properties,
array items, object values, ``anyOf``), and converted to what the function's hints say
(:func:`convert`: an ``Enum`` member, an attrs instance, ...). What is wrong is said for every
problem at once, with its path (``arguments.when.day: expected one of ...``), so the model can
correct itself when the error is its output.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs
from typing_extensions import is_typeddict

from ..errors import EventParseError, RealtalkError
from ..wire import load_json
from .schema import JSONSchema, schema_for

__all__ = ("ToolArgumentsError", "check", "convert", "decode_arguments")

_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "null": (type(None),), "array": (list,), "object": (dict,)}


class ToolArgumentsError(RealtalkError, ValueError):
    """A tool call's arguments do not fit the tool's parameters.

    Attributes:
        problems: each problem, with the path of the value it is about.
    """

    def __init__(self, tool: str, problems: list[str]) -> None:
        super().__init__(f"invalid arguments for {tool}: " + "; ".join(problems))
        self.problems = problems


def decode_arguments(tool: str, text: str, schema: JSONSchema) -> dict[str, Any]:
    """The JSON object of a call's arguments, checked against ``schema``.

    Raises:
        ToolArgumentsError: not JSON, not an object, or not what ``schema`` allows.
    """
    try:
        value = load_json(text) if text.strip() else {}
    except EventParseError as exc:
        raise ToolArgumentsError(tool, [f"arguments: {exc}"]) from None
    problems = check(value, schema, "arguments")
    if problems:
        raise ToolArgumentsError(tool, problems)
    assert isinstance(value, dict)  # the schema of parameters is an object
    return value


def check(value: object, schema: JSONSchema, path: str) -> list[str]:
    """What is wrong with ``value`` against ``schema`` (the subset tools use), each problem
    with its path; empty when it fits."""
    if "anyOf" in schema:
        if any(not check(value, option, path) for option in schema["anyOf"]):
            return []
        return [f"{path}: {_show(value)} fits none of the allowed types"]
    expected = schema.get("type")
    if expected is not None:
        kinds = [expected] if isinstance(expected, str) else list(expected)
        if not any(_is(value, kind) for kind in kinds):
            return [f"{path}: expected {' or '.join(_noun(k) for k in kinds)}, "
                    f"got {_show(value)}"]
    if "enum" in schema and not any(_same(value, v) for v in schema["enum"]):
        allowed = ", ".join(_show(v) for v in schema["enum"])
        return [f"{path}: expected one of {allowed}, got {_show(value)}"]
    problems: list[str] = []
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += check(item, schema["items"], f"{path}[{index}]")
    if isinstance(value, dict):
        properties: Mapping[str, JSONSchema] = schema.get("properties", {})
        problems += [f"{path}.{name}: required, missing" for name in schema.get("required", ())
                     if name not in value]
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                problems += check(item, properties[name], f"{path}.{name}")
            elif extra is False:
                problems.append(f"{path}.{name}: not a parameter (allowed: "
                                f"{', '.join(properties) or 'none'})")
            elif isinstance(extra, dict):
                problems += check(item, extra, f"{path}.{name}")
    return problems


def convert(value: Any, annotation: object) -> Any:
    """``value`` (already checked against ``annotation``'s schema) as the Python value the
    hint names: ``Enum`` members, attrs instances, numbers as the hint's type, containers
    converted item by item; anything else as decoded."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return convert(value, args[0])
    if value is None:
        return None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation(value)
    if annotation is float and isinstance(value, int):
        return float(value)
    if annotation is int and isinstance(value, float):
        return int(value)  # 3.0 passed the schema's integer check
    if origin in (typing.Union, types.UnionType):
        for option in args:
            if option is not type(None) and not _mismatch(value, option):
                return convert(value, option)
        return value
    if isinstance(value, list):
        item = args[0] if args else Any
        converted = [convert(v, item) for v in value]
        return tuple(converted) if origin is tuple or annotation is tuple else converted
    if isinstance(value, dict):
        if isinstance(annotation, type) and attrs.has(annotation):
            hints = typing.get_type_hints(annotation, include_extras=True)
            fields = {f.alias or f.name: f.name for f in attrs.fields(annotation)}
            return annotation(**{alias: convert(v, hints[fields[alias]])
                                 for alias, v in value.items()})
        if isinstance(annotation, type) and is_typeddict(annotation):
            hints = typing.get_type_hints(annotation, include_extras=True)
            return {k: convert(v, hints[k]) for k, v in value.items()}
        item = args[1] if len(args) == 2 else Any
        return {k: convert(v, item) for k, v in value.items()}
    return value


def _mismatch(value: object, annotation: object) -> bool:
    return bool(check(value, schema_for(annotation), "value"))


def _is(value: object, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False  # JSON's true is no number
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES.get(kind, ()))


def _same(value: object, allowed: object) -> bool:
    return (type(value) is type(allowed) and value == allowed) or (
        isinstance(value, int | float) and not isinstance(value, bool)
        and isinstance(allowed, int | float) and not isinstance(allowed, bool)
        and value == allowed)


def _noun(kind: str) -> str:
    return {"string": "a string", "integer": "an integer", "number": "a number",
            "boolean": "true or false", "null": "null", "array": "an array",
            "object": "an object"}.get(kind, kind)


def _show(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
