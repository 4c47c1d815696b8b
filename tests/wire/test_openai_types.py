"""realtalk types every event of the official ``openai`` realtime unions, GA and beta.

The sample frames are built from the openai models themselves (every field filled in, or only
the required ones), so a new event type or field in the ``openai`` package shows up here.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest
from openai.types.beta.realtime import RealtimeClientEvent as BetaClientEvent
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeClientEvent as GAClientEvent
from openai.types.realtime import RealtimeServerEvent as GAServerEvent
from pydantic import BaseModel

from realtalk import wire as ev
from realtalk.session_config import WireShape

_AUDIO = "AQACAA=="  # two PCM16 samples
_MAX_DEPTH = 6  # nested models deeper than this are left out of the samples


def _members(union: Any) -> dict[str, type[BaseModel]]:
    """The members of an openai event union by their ``type``."""
    members: tuple[type[BaseModel], ...] = typing.get_args(typing.get_args(union)[0])
    return {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in members}


def _sample(annotation: Any, *, full: bool, depth: int = 0) -> Any:
    """A value of ``annotation``: the first option of unions and literals, one list item."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _sample(args[0], full=full, depth=depth)
    if origin in (typing.Union, types.UnionType):
        return _sample(next(a for a in args if a is not type(None)), full=full, depth=depth)
    if origin is typing.Literal:
        return args[0]
    if origin is list:
        return [_sample(args[0], full=full, depth=depth + 1)] if depth < _MAX_DEPTH else []
    if origin is dict:
        return {"key": _sample(args[1], full=full, depth=depth + 1)}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {
            field.alias or name: _sample(field.annotation, full=full, depth=depth + 1)
            for name, field in annotation.model_fields.items()
            if field.is_required() or (full and depth < _MAX_DEPTH)
        }
    return {str: "text", int: 7, float: 0.5, bool: True}.get(annotation, {})


def _frame(model: type[BaseModel], *, full: bool) -> dict[str, Any]:
    """A frame of ``model``, checked by the model itself; audio fields hold real base64."""
    frame: dict[str, Any] = _sample(model, full=full)
    if isinstance(frame.get("response"), dict) and frame["type"].startswith("response."):
        # The models leave a response's id optional; realtalk needs it to track the response.
        frame["response"].setdefault("id", "resp_1")
    for audio_field in ("delta", "audio"):
        if isinstance(frame.get(audio_field), str) and "audio" in frame["type"] \
                and "transcript" not in frame["type"]:
            frame[audio_field] = _AUDIO
    model.model_validate(frame)
    return frame


def _shape_of(cls: type[Any], event_type: str, union: WireShape) -> WireShape:
    """The shape that names ``cls`` ``event_type``: the union's own, unless the name is the
    other shape's (the GA union still lists beta's ``conversation.item.created``)."""
    if ev.wire_type(cls, union) == event_type:
        return union
    return "beta" if union == "ga" else "ga"


def _keeps(encoded: Any, frame: Any) -> bool:
    """Whether ``encoded`` holds every non-null value of ``frame`` (it may add defaults)."""
    if isinstance(frame, dict):
        return isinstance(encoded, dict) and all(
            _keeps(encoded.get(k), v) for k, v in frame.items() if v is not None)
    if isinstance(frame, list):
        return isinstance(encoded, list) and len(encoded) == len(frame) and all(
            _keeps(e, f) for e, f in zip(encoded, frame, strict=True))
    return bool(encoded == frame)


_UNIONS: dict[WireShape, tuple[Any, Any]] = {
    "ga": (GAServerEvent, GAClientEvent), "beta": (BetaServerEvent, BetaClientEvent)}
_SERVER = [(shape, event_type, model) for shape, (server, _) in _UNIONS.items()
           for event_type, model in _members(server).items()]
_CLIENT = [(shape, event_type, model) for shape, (_, client) in _UNIONS.items()
           for event_type, model in _members(client).items()]


def test_the_openai_unions_were_read() -> None:
    """The enumeration found the unions' members (a changed union layout fails here)."""
    server_types = {event_type for _, event_type, _ in _SERVER}
    assert {"response.content_part.added", "response.text.delta", "rate_limits.updated",
            "conversation.item.done", "transcription_session.updated"} <= server_types
    assert len(server_types) >= 49
    assert {event_type for _, event_type, _ in _CLIENT} >= {
        "conversation.item.retrieve", "output_audio_buffer.clear", "transcription_session.update"}


@pytest.mark.parametrize(("shape", "event_type", "model"), _SERVER,
                         ids=[f"{shape}:{t}" for shape, t, _ in _SERVER])
@pytest.mark.parametrize("full", [True, False], ids=["all-fields", "required"])
def test_every_openai_server_event_has_its_own_class(
        shape: WireShape, event_type: str, model: type[BaseModel], full: bool) -> None:
    """Each server event type parses to its class and encodes back to the same frame (all
    fields kept; defaults filled in where the frame left them out)."""
    frame = _frame(model, full=full)
    event = ev.parse_server_event(frame)
    assert not isinstance(event, ev.UnknownServerEvent)
    assert type(event) in ev.SERVER_EVENT_CLASSES
    wire_shape = _shape_of(type(event), event_type, shape)
    encoded = ev.to_dict(event, wire_shape)
    assert _keeps(encoded, frame)
    if full:
        assert _keeps(frame, encoded)  # and nothing added: the very same frame
    model.model_validate(encoded)
    assert ev.parse_server_event(ev.encode(event, wire_shape)) == event


@pytest.mark.parametrize(("shape", "event_type", "model"), _CLIENT,
                         ids=[f"{shape}:{t}" for shape, t, _ in _CLIENT])
def test_every_openai_client_event_has_its_own_class(
        shape: WireShape, event_type: str, model: type[BaseModel]) -> None:
    """Each client event type parses to its class, and encodes to a frame openai accepts."""
    event = ev.parse_client_event(_frame(model, full=False))
    assert type(event) in ev.CLIENT_EVENT_CLASSES
    assert ev.wire_type(type(event), "ga") == event_type
    encoded = ev.to_dict(event, shape)
    model.model_validate(encoded)
    assert ev.parse_client_event(encoded) == event


def test_every_realtalk_class_is_an_openai_event() -> None:
    """No realtalk class stands for a type outside the openai unions."""
    server_types = {event_type for _, event_type, _ in _SERVER}
    for cls in ev.SERVER_EVENT_CLASSES:
        assert ev.wire_type(cls, "ga") in server_types
        assert ev.wire_type(cls, "beta") in server_types
    client_types = {event_type for _, event_type, _ in _CLIENT}
    assert {ev.wire_type(cls) for cls in ev.CLIENT_EVENT_CLASSES} == client_types
