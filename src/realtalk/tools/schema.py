"""JSON Schema from Python type hints, for a tool's parameters.

The realtime protocol declares a function tool's parameters as a JSON Schema object. This
module writes that schema from a plain function's signature, so a tool is declared once, in
Python:

- ``str``, ``int``, ``float``, ``bool``, ``None``: ``string``, ``integer``, ``number``,
  ``boolean``, ``null``;
- ``Literal[...]`` and ``Enum`` classes: an ``enum`` of the values;
- ``X | None`` / ``Optional[X]``: ``X`` or ``null``; other unions: ``anyOf``;
- ``list[X]``, ``tuple[X, ...]``, ``Sequence[X]``: an array of ``X``;
- ``dict[str, X]``, ``Mapping[str, X]``: an object of ``X`` values;
- ``TypedDict`` and attrs classes: an object with their fields (required unless they have a
  default, nothing else allowed);
- ``Annotated[X, "text"]``: ``X`` described by ``text``;
- ``Any``: any value.

Anything else (a class the model cannot write, a parameter without a hint) is a
:class:`~realtalk.errors.ConfigurationError` naming it, raised when the tool is declared, not
when the model calls it.
"""

from __future__ import annotations

import collections.abc
import enum
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from typing_extensions import is_typeddict

from ..errors import ConfigurationError

__all__ = ("JSONSchema", "schema_for", "parameters_schema")

JSONSchema = dict[str, Any]

_SCALARS: Mapping[object, str] = {str: "string", int: "integer", float: "number",
                                  bool: "boolean", type(None): "null"}
_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.Iterable, set, frozenset)
_MAPPINGS = (dict, collections.abc.Mapping)


def schema_for(annotation: object, where: str = "value") -> JSONSchema:
    """The JSON Schema of values of type ``annotation`` (``where`` names it in errors).

    Raises:
        ConfigurationError: a type no JSON value can stand for.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        schema = schema_for(args[0], where)
        texts = [a for a in args[1:] if isinstance(a, str)]
        if texts:
            schema["description"] = " ".join(texts)
        return schema
    if annotation is Any:
        return {}
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    if origin is typing.Literal:
        return _enum(list(args), where)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum([member.value for member in annotation], where)
    if origin in (typing.Union, types.UnionType):
        return _union(args, where)
    if origin in _SEQUENCES or annotation in _SEQUENCES:
        item: object = Any
        if args and not (origin is tuple and (len(args) != 2 or args[1] is not Ellipsis)):
            item = args[0]
        elif origin is tuple and args:
            raise ConfigurationError(
                f"{where}: a fixed-length tuple {annotation!r} cannot be declared; use "
                "tuple[X, ...] or list[X]", argument=where)
        return {"type": "array", "items": schema_for(item, f"{where}[]")}
    if origin in _MAPPINGS or annotation in _MAPPINGS:
        key, value = args if args else (str, Any)
        if key is not str:
            raise ConfigurationError(f"{where}: JSON object keys are strings, not {key!r}",
                                     argument=where)
        return {"type": "object", "additionalProperties": schema_for(value, f"{where}{{}}")}
    if isinstance(annotation, type) and is_typeddict(annotation):
        hints = typing.get_type_hints(annotation, include_extras=True)
        required = getattr(annotation, "__required_keys__", frozenset(hints))
        return _object({name: schema_for(hint, f"{where}.{name}")
                        for name, hint in hints.items()}, [n for n in hints if n in required])
    if isinstance(annotation, type) and attrs.has(annotation):
        hints = typing.get_type_hints(annotation, include_extras=True)
        fields = attrs.fields(annotation)
        properties = {}
        for field in fields:
            if field.name not in hints:
                raise ConfigurationError(f"{where}.{field.name} has no type hint",
                                         argument=f"{where}.{field.name}")
            properties[field.alias or field.name] = schema_for(hints[field.name],
                                                               f"{where}.{field.name}")
        return _object(properties, [f.alias or f.name for f in fields
                                    if f.default is attrs.NOTHING])
    raise ConfigurationError(
        f"{where}: {annotation!r} is not a type a tool's JSON arguments can hold (str, int, "
        "float, bool, None, Literal, Enum, list, dict, TypedDict, attrs classes, "
        "Optional/unions, Annotated)", argument=where)


def parameters_schema(function: Callable[..., Any],
                      descriptions: Mapping[str, str] | None = None) -> JSONSchema:
    """The ``parameters`` object schema of ``function``'s keyword-able parameters.

    A parameter's description is its ``Annotated`` text, else ``descriptions[name]``; a
    parameter with a default is optional and its default is shown to the model.

    Raises:
        ConfigurationError: a parameter without a hint, a ``*args`` / ``**kwargs``, a
            positional-only parameter, or a type no JSON value can stand for.
    """
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except NameError as exc:  # a string annotation naming something out of reach
        raise ConfigurationError(f"{function.__qualname__}: a type hint cannot be resolved "
                                 f"({exc})") from exc
    properties: dict[str, JSONSchema] = {}
    required = []
    for name, parameter in signature.parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD,
                              parameter.POSITIONAL_ONLY):
            raise ConfigurationError(
                f"{function.__qualname__}: parameter {name!r} cannot be given by name; a "
                "tool's arguments are a JSON object of named parameters", argument=name)
        if name not in hints:
            raise ConfigurationError(
                f"{function.__qualname__}: parameter {name!r} has no type hint, so the model "
                "cannot be told what to pass", argument=name)
        schema = schema_for(hints[name], name)
        if "description" not in schema and descriptions and name in descriptions:
            schema["description"] = descriptions[name]
        if parameter.default is parameter.empty:
            required.append(name)
        elif _is_json(parameter.default):
            schema["default"] = parameter.default
        properties[name] = schema
    return _object(properties, required)


def _object(properties: dict[str, JSONSchema], required: list[str]) -> JSONSchema:
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


def _enum(values: list[object], where: str) -> JSONSchema:
    if any(isinstance(v, enum.Enum) for v in values):
        values = [v.value if isinstance(v, enum.Enum) else v for v in values]
    kinds = {_SCALARS.get(type(v)) for v in values}
    if None in kinds:
        raise ConfigurationError(f"{where}: enum values must be str, int, float, bool or None",
                                 argument=where)
    schema: JSONSchema = {"enum": values}
    if len(kinds) == 1:
        schema = {"type": kinds.pop(), "enum": values}
    return schema


def _union(args: tuple[object, ...], where: str) -> JSONSchema:
    options = [schema_for(arg, where) for arg in args if arg is not type(None)]
    nullable = len(options) < len(args)
    if len(options) == 1 and nullable and isinstance(options[0].get("type"), str):
        schema = dict(options[0])
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        return schema
    if nullable:
        options.append({"type": "null"})
    return {"anyOf": options}


def _is_json(value: object) -> bool:
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list | tuple):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False
