"""Checks of what clients ask for: session settings and ``response.create`` overrides.

:func:`check_session` validates the session fields the server does not model itself but
stores and echoes (``tools``, ``tool_choice``, ``tracing``, the token limit, ...), the way the
hosted service does: an unknown field is ``unknown_parameter``, a value of the wrong type or
outside the allowed ones is ``invalid_value``, each naming the field.

:func:`response_params` validates the ``response`` object of a ``response.create`` and merges
it over the session. A client may override, per response, the output modalities (GA
``output_modalities``, beta ``modalities``), the voice, the token limit (GA
``max_output_tokens``, beta ``max_response_output_tokens``), attach ``metadata`` (echoed on the
response, which is how clients such as LiveKit Agents match a reply to its request), and ask
for an out-of-band response with ``conversation: "none"``, and give the response its own
``tools`` and ``tool_choice``.

Function tools are checked beyond their fields' types by
:func:`~.function_calls.check_tools`: a valid name, a JSON Schema of an object as
``parameters``, and a ``tool_choice`` that names a declared tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from ..errors import EventParseError
from ..session_config import SessionConfig, WireShape
from .function_calls import FunctionTool, check_tools, declared_tools
from .items import RequestError

__all__ = ("MAX_OUTPUT_TOKENS", "ResponseParams", "check_session", "max_tokens_key",
           "response_params")

#: The largest finite ``max_output_tokens`` the hosted service accepts.
MAX_OUTPUT_TOKENS = 4096
_MODALITIES = ("audio", "text")
_METADATA_KEYS = 16
_METADATA_KEY_CHARS = 64
_METADATA_VALUE_CHARS = 512

# ---------------------------------------------------------------------------------------------
# A small schema language for the JSON values the server stores without interpreting them
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class _Obj:
    """An object with these fields (names to specs) and no others."""

    required: Mapping[str, Any] = attrs.field(factory=dict)
    optional: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class _List:
    """A list whose items all match ``item``."""

    item: Any


@attrs.frozen
class _OneOf:
    """A value matching any of ``specs``."""

    specs: tuple[Any, ...]


_ANY_OBJECT = dict  # an object with any fields (a JSON schema, tracing metadata, ...)
_NUMBER = float  # an integer or a float
_TRACING = _OneOf((None, ("auto",), _Obj(optional={
    "workflow_name": str, "group_id": str, "metadata": object})))
_FUNCTION_TOOL = _Obj(optional={"type": ("function",), "name": str, "description": str,
                                "parameters": _ANY_OBJECT})

# The session fields stored as sent, by shape (the token limit is checked on its own).
_SESSION_FIELDS: dict[str, dict[str, Any]] = {
    "ga": {
        "tools": _List(_FUNCTION_TOOL),
        "tool_choice": _OneOf((("none", "auto", "required"), _Obj(required={
            "type": ("function",), "name": str}))),
        "tracing": _TRACING,
        "truncation": _OneOf((("auto", "disabled"), _Obj(
            required={"type": ("retention_ratio",), "retention_ratio": _NUMBER},
            optional={"token_limits": _Obj(optional={"post_instructions": int})}))),
        "prompt": _OneOf((None, _Obj(required={"id": str}, optional={
            "version": _OneOf((None, str)), "variables": _ANY_OBJECT}))),
        "reasoning": _Obj(optional={"effort": ("minimal", "low", "medium", "high", "xhigh")}),
        "include": _List(("item.input_audio_transcription.logprobs",)),
        "parallel_tool_calls": bool,
    },
    "beta": {
        "tools": _List(_FUNCTION_TOOL),
        "tool_choice": str,
        "tracing": _TRACING,
        "temperature": _NUMBER,
        "speed": _NUMBER,
    },
}


def _check(value: object, spec: Any, param: str) -> None:
    """Raise :class:`RequestError` naming ``param`` unless ``value`` matches ``spec``."""
    if isinstance(spec, _OneOf):
        for option in spec.specs:
            try:
                _check(value, option, param)
            except RequestError:
                continue
            return
        raise RequestError(f"Invalid value for '{param}': {_brief(value)}.", param)
    if isinstance(spec, _Obj):
        if not isinstance(value, Mapping):
            raise RequestError(f"'{param}' must be an object, got {_brief(value)}.", param)
        for key in value:
            if key not in spec.required and key not in spec.optional:
                raise RequestError(f"Unknown parameter: '{param}.{key}'.", f"{param}.{key}",
                                   "unknown_parameter")
        for key, field_spec in spec.required.items():
            if key not in value:
                raise RequestError(f"Missing required parameter: '{param}.{key}'.",
                                   f"{param}.{key}", "missing_required_parameter")
            _check(value[key], field_spec, f"{param}.{key}")
        for key, field_spec in spec.optional.items():
            if key in value:
                _check(value[key], field_spec, f"{param}.{key}")
        return
    if isinstance(spec, _List):
        if not isinstance(value, list):
            raise RequestError(f"'{param}' must be an array, got {_brief(value)}.", param)
        for index, item in enumerate(value):
            _check(item, spec.item, f"{param}[{index}]")
        return
    if not _matches(value, spec):
        raise RequestError(f"Invalid value for '{param}': {_brief(value)}.", param)


def _matches(value: object, spec: Any) -> bool:
    if spec is None:
        return value is None
    if spec is object:
        return True
    if isinstance(spec, tuple):
        return isinstance(value, str) and value in spec
    if spec is _NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if spec is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if spec is _ANY_OBJECT:
        return isinstance(value, Mapping)
    return isinstance(value, spec)


def _brief(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------
# Session and response checks
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ResponseParams:
    """The settings one response runs with."""

    modalities: tuple[str, ...]
    voice: str
    max_output_tokens: int | Literal["inf"]
    metadata: Mapping[str, str] | None = None
    temperature: float | None = None
    in_conversation: bool = True
    tools: tuple[FunctionTool, ...] = ()
    tool_choice: Any = "auto"  # "auto", "none", "required", or a named function

    @property
    def audio(self) -> bool:
        """Whether the response speaks (else it writes text only)."""
        return "audio" in self.modalities


def max_tokens_key(shape: WireShape) -> str:
    """The session and ``response.create`` field of the token limit in ``shape``."""
    return "max_output_tokens" if shape == "ga" else "max_response_output_tokens"


def check_session(session: SessionConfig, shape: WireShape) -> None:
    """Check the session fields the server stores and echoes without modelling them.

    Raises:
        RequestError: an unknown field, or an invalid value (``param`` names it, e.g.
            ``session.tools[0].name``).
    """
    _check_modalities(_first_set(session.output_modalities, ("audio",)),
                      _modalities_param("session", shape))
    key = max_tokens_key(shape)
    fields = _SESSION_FIELDS[shape]
    for name, value in session.extra.items():
        if name == key:
            _check_limit(value, f"session.{key}")
        elif name not in fields:
            raise RequestError(f"Unknown parameter: 'session.{name}'.", f"session.{name}",
                               "unknown_parameter")
        else:
            _check(value, fields[name], f"session.{name}")
    check_tools(session.extra.get("tools"), session.extra.get("tool_choice"), "session")


def response_params(raw: Mapping[str, Any] | None, session: SessionConfig,
                    shape: WireShape) -> ResponseParams:
    """Validate the ``response`` object of a ``response.create`` and merge it over ``session``.

    Raises:
        RequestError: a field has the wrong type or an unsupported value (``param`` names it,
            e.g. ``response.metadata``).
    """
    raw = raw or {}
    try:
        overrides = SessionConfig.from_dict(raw, "response")
    except EventParseError as exc:
        raise RequestError(str(exc), exc.field or "response") from exc
    modalities = _first_set(overrides.output_modalities, session.output_modalities, ("audio",))
    key = max_tokens_key(shape)
    limit = raw.get(key, raw.get("max_output_tokens", session.extra.get(key, "inf")))
    temperature = raw.get("temperature", session.extra.get("temperature"))
    if temperature is not None:
        _check(temperature, _NUMBER, "response.temperature")
    fields = _SESSION_FIELDS[shape]
    for name in ("tools", "tool_choice"):
        if name in raw:
            _check(raw[name], fields[name], f"response.{name}")
    tools = raw.get("tools", session.extra.get("tools", []))
    tool_choice = raw.get("tool_choice", session.extra.get("tool_choice", "auto"))
    check_tools(tools, tool_choice, "response")
    conversation = raw.get("conversation", "auto")
    if conversation not in ("auto", "none"):
        raise RequestError(f"Invalid value: {_brief(conversation)}. response.conversation must "
                           "be 'auto' (the default conversation) or 'none' (out of band).",
                           "response.conversation")
    return ResponseParams(
        modalities=_check_modalities(modalities, _modalities_param("response", shape)),
        voice=overrides.voice or session.voice or "marin",
        max_output_tokens=_check_limit(limit, f"response.{key}"),
        metadata=_check_metadata(raw.get("metadata")),
        temperature=None if shape == "ga" or temperature is None else float(temperature),
        in_conversation=conversation == "auto",
        tools=declared_tools(tools),
        tool_choice=tool_choice,
    )


def _first_set(*values: tuple[str, ...] | None) -> tuple[str, ...]:
    """The first value that is set (an empty tuple is set: to nothing)."""
    return next(value for value in values if value is not None)


def _modalities_param(path: str, shape: WireShape) -> str:
    return f"{path}.output_modalities" if shape == "ga" else f"{path}.modalities"


def _check_modalities(modalities: tuple[str, ...], param: str) -> tuple[str, ...]:
    if not modalities or any(m not in _MODALITIES for m in modalities):
        raise RequestError(
            f"Invalid value: {list(modalities)!r}. {param} must be ['audio'] or ['text'] "
            "(beta also ['audio', 'text']).", param)
    return modalities


def _check_limit(value: object, param: str) -> int | Literal["inf"]:
    if value == "inf":
        return "inf"
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 1 <= value <= MAX_OUTPUT_TOKENS:
        raise RequestError(f"Invalid value: {_brief(value)}. {param} must be an integer from 1 "
                           f"to {MAX_OUTPUT_TOKENS} or 'inf'.", param)
    return value


def _check_metadata(value: object) -> Mapping[str, str] | None:
    if value is None:
        return None
    param = "response.metadata"
    if not isinstance(value, Mapping):
        raise RequestError(f"{param} must be an object of strings, got {_brief(value)}", param)
    if len(value) > _METADATA_KEYS:
        raise RequestError(f"{param} may hold at most {_METADATA_KEYS} keys, got {len(value)}",
                           param)
    for key, text in value.items():
        if len(key) > _METADATA_KEY_CHARS:
            raise RequestError(f"{param} keys may be at most {_METADATA_KEY_CHARS} characters, "
                               f"got {len(key)} in {_brief(key)}", param)
        if not isinstance(text, str) or len(text) > _METADATA_VALUE_CHARS:
            raise RequestError(f"{param}.{key} must be a string of at most "
                               f"{_METADATA_VALUE_CHARS} characters, got {_brief(text)}",
                               f"{param}.{key}")
    return dict(value)
