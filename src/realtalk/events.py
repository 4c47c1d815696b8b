"""Typed events of the OpenAI Realtime protocol, both directions, with their JSON codec.

Every event is a frozen attrs class whose fields are the JSON fields of the frame (audio is
held as raw PCM16 ``bytes``; base64 exists only on the wire). GA names are canonical; the beta
names (``response.audio.delta``, ``conversation.item.created``, ...) parse to the same classes.

- :func:`parse_server_event` / :func:`parse_client_event` turn a frame (``str``, ``bytes`` or an
  already-decoded mapping) into an event. An unknown server ``type`` becomes
  :class:`UnknownServerEvent`, keeping its payload. Malformed JSON or a bad field raises
  :class:`~realtalk.errors.EventParseError` naming the field.
- :func:`encode` turns any event back into a JSON text frame, in GA (default) or beta names.

The ``type`` strings live only in this module.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeAlias, TypeVar

import attrs

from .errors import EventParseError
from .session_config import SessionConfig, WireShape

__all__ = (
    # client events
    "SessionUpdate",
    "InputAudioBufferAppend",
    "InputAudioBufferCommit",
    "InputAudioBufferClear",
    "ConversationItemCreate",
    "ConversationItemTruncate",
    "ConversationItemDelete",
    "ResponseCreate",
    "ResponseCancel",
    "ClientEvent",
    # server events
    "SessionCreated",
    "SessionUpdated",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioBufferCommitted",
    "InputAudioBufferCleared",
    "ConversationItemAdded",
    "ConversationItemDone",
    "ConversationItemTruncated",
    "InputAudioTranscriptionCompleted",
    "ResponseCreated",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseOutputAudioDelta",
    "ResponseOutputAudioDone",
    "ResponseOutputAudioTranscriptDelta",
    "ResponseOutputAudioTranscriptDone",
    "ResponseDone",
    "ServerError",
    "UnknownServerEvent",
    "ServerEvent",
    # parts
    "ResponseInfo",
    "StatusDetails",
    "ErrorInfo",
    "ResponseStatus",
    # codec
    "parse_server_event",
    "parse_client_event",
    "encode",
    "to_dict",
)

ResponseStatus = Literal["completed", "cancelled", "incomplete", "failed", "in_progress"]
_STATUSES = ("completed", "cancelled", "incomplete", "failed", "in_progress")

# Field kinds drive the generic codec: each attrs field carries one in its metadata.
_KIND = "realtalk_kind"


def _field(kind: str, *, optional: bool = False, default: Any = attrs.NOTHING) -> Any:
    if optional and default is attrs.NOTHING:
        default = None
    return attrs.field(default=default, metadata={_KIND: (kind, optional)})


def _str(*, optional: bool = False) -> Any:
    return _field("str", optional=optional)


def _int(*, optional: bool = False, default: Any = attrs.NOTHING) -> Any:
    return _field("int", optional=optional, default=default)


def _audio() -> Any:
    return _field("audio", default=b"")


def _obj(*, optional: bool = False) -> Any:
    if optional:
        return _field("obj", optional=True)
    return attrs.field(factory=dict, metadata={_KIND: ("obj", False)})


def _event_id() -> Any:
    return _field("str", optional=True)


class _Event:
    """Mixin carrying the wire names of an event class."""

    TYPE: ClassVar[str]
    BETA_TYPE: ClassVar[str | None] = None

    @property
    def type(self) -> str:
        """The GA wire name of this event."""
        return self.TYPE


# ---------------------------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StatusDetails:
    """Why a response ended other than ``completed`` (``reason``: ``client_cancelled``,
    ``turn_detected``, ``max_output_tokens``, ``content_filter``, ...)."""

    type: str | None = None
    reason: str | None = None
    error: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class ResponseInfo:
    """The ``response`` object of ``response.created`` / ``response.done``."""

    id: str
    status: ResponseStatus = "in_progress"
    status_details: StatusDetails | None = None
    output: tuple[Mapping[str, Any], ...] = ()


@attrs.frozen(kw_only=True)
class ErrorInfo:
    """The ``error`` object of an ``error`` event.

    ``event_id`` is the id of the client event that caused the error, when the client gave one.
    """

    type: str
    message: str
    code: str | None = None
    param: str | None = None
    event_id: str | None = None


# ---------------------------------------------------------------------------------------------
# Client events
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SessionUpdate(_Event):
    """Update the session configuration; ``shape`` picks the GA or beta JSON layout."""

    TYPE: ClassVar[str] = "session.update"
    session: SessionConfig = attrs.field(factory=SessionConfig)
    shape: WireShape = "ga"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioBufferAppend(_Event):
    """Append PCM16 mono 24 kHz microphone audio (raw bytes) to the input buffer."""

    TYPE: ClassVar[str] = "input_audio_buffer.append"
    audio: bytes = _audio()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioBufferCommit(_Event):
    """Commit the input buffer as a user message (manual turns)."""

    TYPE: ClassVar[str] = "input_audio_buffer.commit"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioBufferClear(_Event):
    """Drop the uncommitted input audio."""

    TYPE: ClassVar[str] = "input_audio_buffer.clear"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemCreate(_Event):
    """Add an item (message, function output, ...) to the conversation."""

    TYPE: ClassVar[str] = "conversation.item.create"
    item: Mapping[str, Any] = _obj()
    previous_item_id: str | None = _str(optional=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemTruncate(_Event):
    """Cut an assistant audio item to the ``audio_end_ms`` the user actually heard."""

    TYPE: ClassVar[str] = "conversation.item.truncate"
    item_id: str = _str()
    content_index: int = _int(default=0)
    audio_end_ms: int = _int()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemDelete(_Event):
    """Remove an item from the conversation (the model no longer sees it)."""

    TYPE: ClassVar[str] = "conversation.item.delete"
    item_id: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseCreate(_Event):
    """Ask the model for a response; ``response`` holds per-response overrides."""

    TYPE: ClassVar[str] = "response.create"
    response: Mapping[str, Any] | None = _obj(optional=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseCancel(_Event):
    """Cancel the active response (or the one named by ``response_id``)."""

    TYPE: ClassVar[str] = "response.cancel"
    response_id: str | None = _str(optional=True)
    event_id: str | None = _event_id()


ClientEvent: TypeAlias = (
    SessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemTruncate
    | ConversationItemDelete
    | ResponseCreate
    | ResponseCancel
)

# ---------------------------------------------------------------------------------------------
# Server events
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SessionCreated(_Event):
    """The session exists; ``session`` is the server's full configuration object."""

    TYPE: ClassVar[str] = "session.created"
    session: Mapping[str, Any] = _obj()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class SessionUpdated(_Event):
    """A ``session.update`` was applied; ``session`` is the resulting configuration."""

    TYPE: ClassVar[str] = "session.updated"
    session: Mapping[str, Any] = _obj()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioBufferSpeechStarted(_Event):
    """Server VAD heard speech start, ``audio_start_ms`` into the input buffer."""

    TYPE: ClassVar[str] = "input_audio_buffer.speech_started"
    audio_start_ms: int = _int()
    item_id: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioBufferSpeechStopped(_Event):
    """Server VAD heard speech stop, ``audio_end_ms`` into the input buffer."""

    TYPE: ClassVar[str] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int = _int()
    item_id: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioBufferCommitted(_Event):
    """The input buffer became the user item ``item_id``."""

    TYPE: ClassVar[str] = "input_audio_buffer.committed"
    item_id: str = _str()
    previous_item_id: str | None = _str(optional=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioBufferCleared(_Event):
    """The input buffer was cleared."""

    TYPE: ClassVar[str] = "input_audio_buffer.cleared"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemAdded(_Event):
    """An item was added to the conversation (beta: ``conversation.item.created``)."""

    TYPE: ClassVar[str] = "conversation.item.added"
    BETA_TYPE: ClassVar[str | None] = "conversation.item.created"
    item: Mapping[str, Any] = _obj()
    previous_item_id: str | None = _str(optional=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemDone(_Event):
    """An item is complete (its audio bytes are left out)."""

    TYPE: ClassVar[str] = "conversation.item.done"
    item: Mapping[str, Any] = _obj()
    previous_item_id: str | None = _str(optional=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemTruncated(_Event):
    """An assistant audio item was cut at ``audio_end_ms`` (and its transcript with it)."""

    TYPE: ClassVar[str] = "conversation.item.truncated"
    item_id: str = _str()
    content_index: int = _int(default=0)
    audio_end_ms: int = _int()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioTranscriptionCompleted(_Event):
    """The transcript of a user audio item."""

    TYPE: ClassVar[str] = "conversation.item.input_audio_transcription.completed"
    item_id: str = _str()
    content_index: int = _int(default=0)
    transcript: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseCreated(_Event):
    """A response started."""

    TYPE: ClassVar[str] = "response.created"
    response: ResponseInfo = attrs.field(metadata={_KIND: ("response", False)})
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputItemAdded(_Event):
    """A response added an output item (e.g. the assistant message)."""

    TYPE: ClassVar[str] = "response.output_item.added"
    response_id: str = _str()
    output_index: int = _int(default=0)
    item: Mapping[str, Any] = _obj()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputItemDone(_Event):
    """A response's output item is complete."""

    TYPE: ClassVar[str] = "response.output_item.done"
    response_id: str = _str()
    output_index: int = _int(default=0)
    item: Mapping[str, Any] = _obj()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputAudioDelta(_Event):
    """A chunk of assistant audio, PCM16 mono 24 kHz (beta: ``response.audio.delta``)."""

    TYPE: ClassVar[str] = "response.output_audio.delta"
    BETA_TYPE: ClassVar[str | None] = "response.audio.delta"
    response_id: str = _str()
    item_id: str = _str()
    output_index: int = _int(default=0)
    content_index: int = _int(default=0)
    delta: bytes = _audio()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputAudioDone(_Event):
    """The assistant audio of one content part is complete (beta: ``response.audio.done``)."""

    TYPE: ClassVar[str] = "response.output_audio.done"
    BETA_TYPE: ClassVar[str | None] = "response.audio.done"
    response_id: str = _str()
    item_id: str = _str()
    output_index: int = _int(default=0)
    content_index: int = _int(default=0)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputAudioTranscriptDelta(_Event):
    """Assistant audio text as generated (beta: ``response.audio_transcript.delta``)."""

    TYPE: ClassVar[str] = "response.output_audio_transcript.delta"
    BETA_TYPE: ClassVar[str | None] = "response.audio_transcript.delta"
    response_id: str = _str()
    item_id: str = _str()
    output_index: int = _int(default=0)
    content_index: int = _int(default=0)
    delta: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputAudioTranscriptDone(_Event):
    """The full transcript of an assistant audio part (beta: ``response.audio_transcript.done``)."""

    TYPE: ClassVar[str] = "response.output_audio_transcript.done"
    BETA_TYPE: ClassVar[str | None] = "response.audio_transcript.done"
    response_id: str = _str()
    item_id: str = _str()
    output_index: int = _int(default=0)
    content_index: int = _int(default=0)
    transcript: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseDone(_Event):
    """A response ended; ``response.status`` says how (``cancelled`` after a barge-in)."""

    TYPE: ClassVar[str] = "response.done"
    response: ResponseInfo = attrs.field(metadata={_KIND: ("response", False)})
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ServerError(_Event):
    """An ``error`` event. Most are not fatal (e.g. ``response_cancel_not_active``)."""

    TYPE: ClassVar[str] = "error"
    error: ErrorInfo = attrs.field(metadata={_KIND: ("error", False)})
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class UnknownServerEvent:
    """A server event realtalk has no class for; ``payload`` is the whole decoded frame."""

    type: str
    payload: Mapping[str, Any]


ServerEvent: TypeAlias = (
    SessionCreated
    | SessionUpdated
    | InputAudioBufferSpeechStarted
    | InputAudioBufferSpeechStopped
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | ConversationItemAdded
    | ConversationItemDone
    | ConversationItemTruncated
    | InputAudioTranscriptionCompleted
    | ResponseCreated
    | ResponseOutputItemAdded
    | ResponseOutputItemDone
    | ResponseOutputAudioDelta
    | ResponseOutputAudioDone
    | ResponseOutputAudioTranscriptDelta
    | ResponseOutputAudioTranscriptDone
    | ResponseDone
    | ServerError
    | UnknownServerEvent
)

_CLIENT_CLASSES: tuple[type[_Event], ...] = (
    SessionUpdate,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    InputAudioBufferClear,
    ConversationItemCreate,
    ConversationItemTruncate,
    ConversationItemDelete,
    ResponseCreate,
    ResponseCancel,
)
_SERVER_CLASSES: tuple[type[_Event], ...] = (
    SessionCreated,
    SessionUpdated,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferCommitted,
    InputAudioBufferCleared,
    ConversationItemAdded,
    ConversationItemDone,
    ConversationItemTruncated,
    InputAudioTranscriptionCompleted,
    ResponseCreated,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseDone,
    ServerError,
)


def _registry(classes: tuple[type[_Event], ...]) -> dict[str, type[_Event]]:
    table: dict[str, type[_Event]] = {}
    for cls in classes:
        table[cls.TYPE] = cls
        if cls.BETA_TYPE is not None:
            table[cls.BETA_TYPE] = cls
    return table


_CLIENT_TYPES = _registry(_CLIENT_CLASSES)
_SERVER_TYPES = _registry(_SERVER_CLASSES)

# ---------------------------------------------------------------------------------------------
# Codec
# ---------------------------------------------------------------------------------------------

_E = TypeVar("_E")


def parse_server_event(frame: str | bytes | Mapping[str, Any]) -> ServerEvent:
    """Parse one server frame.

    Raises:
        EventParseError: the frame is not a JSON object, has no string ``type``, or a known
            event has a missing or mistyped field (named in ``field``).
    """
    payload = _load(frame)
    event_type = payload["type"]
    cls = _SERVER_TYPES.get(event_type)
    if cls is None:
        return UnknownServerEvent(type=event_type, payload=payload)
    event: ServerEvent = _decode(cls, payload, event_type)  # type: ignore[assignment]
    return event


def parse_client_event(frame: str | bytes | Mapping[str, Any]) -> ClientEvent:
    """Parse one client frame (what a server or relay receives).

    Raises:
        EventParseError: as :func:`parse_server_event`; an unknown ``type`` is an error here,
            because a server must refuse what it does not understand.
    """
    payload = _load(frame)
    event_type = payload["type"]
    cls = _CLIENT_TYPES.get(event_type)
    if cls is None:
        raise EventParseError(
            f"unknown client event type {event_type!r}", event_type=event_type, field="type"
        )
    event: ClientEvent = _decode(cls, payload, event_type)  # type: ignore[assignment]
    return event


def to_dict(event: ClientEvent | ServerEvent, shape: WireShape = "ga") -> dict[str, Any]:
    """The JSON object of ``event``; ``shape="beta"`` uses the beta names and session layout."""
    if isinstance(event, UnknownServerEvent):
        return dict(event.payload)
    name = event.BETA_TYPE if shape == "beta" and event.BETA_TYPE else event.TYPE
    out: dict[str, Any] = {"type": name}
    for field in attrs.fields(type(event)):
        value = getattr(event, field.name)
        if field.name == "shape":
            continue
        if field.name == "session" and isinstance(value, SessionConfig):
            out["session"] = value.to_dict(
                event.shape if isinstance(event, SessionUpdate) else shape
            )
            continue
        kind = field.metadata.get(_KIND, ("obj", True))[0]
        if value is None:
            if field.name == "event_id":
                continue
            out[field.name] = None
        elif kind == "audio":
            out[field.name] = base64.b64encode(value).decode("ascii")
        elif kind == "response":
            out[field.name] = _response_to_dict(value)
        elif kind == "error":
            out[field.name] = attrs.asdict(value)
        else:
            out[field.name] = value
    if isinstance(event, ResponseCreate) and event.response is None:
        del out["response"]
    if isinstance(event, ResponseCancel) and event.response_id is None:
        del out["response_id"]
    return out


def encode(event: ClientEvent | ServerEvent, shape: WireShape = "ga") -> str:
    """Serialize ``event`` as a JSON text frame."""
    return json.dumps(to_dict(event, shape), separators=(",", ":"))


def _load(frame: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(frame, Mapping):
        payload: object = frame
    else:
        try:
            payload = json.loads(frame)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EventParseError(f"frame is not valid JSON: {exc}") from exc
    if not isinstance(payload, Mapping):
        raise EventParseError(f"frame must be a JSON object, got {type(payload).__name__}")
    event_type = payload.get("type")
    if not isinstance(event_type, str):
        raise EventParseError(f"frame has no string 'type' (got {event_type!r})", field="type")
    return payload


def _decode(cls: type[_E], payload: Mapping[str, Any], event_type: str) -> _E:
    kwargs: dict[str, Any] = {}
    for field in attrs.fields(cls):  # type: ignore[arg-type]
        name = field.name
        if name == "shape":
            kwargs["shape"] = "ga" if _looks_ga(payload.get("session")) else "beta"
            continue
        if name == "session" and cls is SessionUpdate:
            kwargs["session"] = _with_type(
                SessionConfig.from_dict, payload.get("session", {}), event_type
            )
            continue
        kind, optional = field.metadata.get(_KIND, ("obj", False))
        present = name in payload and payload[name] is not None
        if not present:
            if field.default is attrs.NOTHING and not optional:
                raise EventParseError(
                    f"{event_type}: missing required field {name!r}",
                    event_type=event_type,
                    field=name,
                )
            continue
        kwargs[name] = _decode_value(kind, payload[name], name, event_type)
    return cls(**kwargs)


def _decode_value(kind: str, value: Any, name: str, event_type: str) -> Any:
    def bad(expected: str) -> EventParseError:
        return EventParseError(
            f"{event_type}: field {name!r} must be {expected}, got {type(value).__name__}",
            event_type=event_type,
            field=name,
        )

    if kind == "str":
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if kind == "audio":
        if not isinstance(value, str):
            raise bad("base64 audio")
        try:
            pcm = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise EventParseError(
                f"{event_type}: field {name!r} is not valid base64",
                event_type=event_type,
                field=name,
            ) from exc
        if len(pcm) % 2:
            raise EventParseError(
                f"{event_type}: field {name!r} holds {len(pcm)} bytes, an odd count "
                "(PCM16 needs 2 bytes per sample)",
                event_type=event_type,
                field=name,
            )
        return pcm
    if kind == "response":
        return _response_from(value, name, event_type)
    if kind == "error":
        if not isinstance(value, Mapping):
            raise bad("an object")
        message = value.get("message", "")
        return ErrorInfo(
            type=str(value.get("type", "error")),
            message=str(message),
            code=_opt_text(value.get("code")),
            param=_opt_text(value.get("param")),
            event_id=_opt_text(value.get("event_id")),
        )
    if not isinstance(value, Mapping):
        raise bad("an object")
    return value


def _opt_text(value: object) -> str | None:
    return None if value is None else str(value)


def _response_from(value: Any, name: str, event_type: str) -> ResponseInfo:
    if not isinstance(value, Mapping):
        raise EventParseError(
            f"{event_type}: field {name!r} must be an object", event_type=event_type, field=name
        )
    response_id = value.get("id")
    if not isinstance(response_id, str):
        raise EventParseError(
            f"{event_type}: field '{name}.id' must be a string, got {response_id!r}",
            event_type=event_type,
            field=f"{name}.id",
        )
    status = value.get("status", "in_progress")
    if status not in _STATUSES:
        raise EventParseError(
            f"{event_type}: field '{name}.status' must be one of {_STATUSES}, got {status!r}",
            event_type=event_type,
            field=f"{name}.status",
        )
    details_obj = value.get("status_details")
    details = None
    if isinstance(details_obj, Mapping):
        details = StatusDetails(
            type=_opt_text(details_obj.get("type")),
            reason=_opt_text(details_obj.get("reason")),
            error=details_obj.get("error")
            if isinstance(details_obj.get("error"), Mapping)
            else None,
        )
    elif details_obj is not None:
        raise EventParseError(
            f"{event_type}: field '{name}.status_details' must be an object or null",
            event_type=event_type,
            field=f"{name}.status_details",
        )
    output = value.get("output") or []
    if not isinstance(output, list) or not all(isinstance(o, Mapping) for o in output):
        raise EventParseError(
            f"{event_type}: field '{name}.output' must be a list of objects",
            event_type=event_type,
            field=f"{name}.output",
        )
    return ResponseInfo(id=response_id, status=status, status_details=details, output=tuple(output))


def _response_to_dict(info: ResponseInfo) -> dict[str, Any]:
    details = None
    if info.status_details is not None:
        details = {k: v for k, v in attrs.asdict(info.status_details).items() if v is not None}
    return {
        "id": info.id,
        "object": "realtime.response",
        "status": info.status,
        "status_details": details,
        "output": [dict(o) for o in info.output],
    }


def _looks_ga(session: object) -> bool:
    return (
        not isinstance(session, Mapping)
        or "audio" in session
        or session.get("type")
        in (
            "realtime",
            "transcription",
        )
        or not any(
            k in session
            for k in (
                "input_audio_format",
                "output_audio_format",
                "turn_detection",
                "voice",
                "modalities",
                "input_audio_transcription",
            )
        )
    )


def _with_type(parse: Any, value: Any, event_type: str) -> Any:
    try:
        return parse(value)
    except EventParseError as exc:
        raise EventParseError(str(exc), event_type=event_type, field=exc.field) from exc
