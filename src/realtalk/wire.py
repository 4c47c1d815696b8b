"""Typed events of the OpenAI Realtime protocol, both directions, with their JSON codec.

Every event is a frozen attrs class whose fields are the JSON fields of the frame (audio is
held as raw PCM16 ``bytes``; base64 exists only on the wire). Every server and client event of
the GA and beta protocols has its own class. GA names are canonical; the beta names
(``response.audio.delta``, ``response.text.delta``, ``conversation.item.created``, ...) parse
to the same classes.

- :func:`parse_server_event` / :func:`parse_client_event` turn a frame (``str``, ``bytes`` or an
  already-decoded mapping) into an event. An unknown server ``type`` becomes
  :class:`UnknownServerEvent`, keeping its payload. Malformed JSON (including JSON nested
  deeper than :data:`MAX_JSON_DEPTH`) or a bad field raises
  :class:`~realtalk.errors.EventParseError` naming the field.
- :func:`encode` turns any event back into a JSON text frame, in GA (default) or beta names.
- :func:`load_json` is the JSON decoding under both parsers, for anything else that reads
  frames from a peer: it raises nothing but :class:`~realtalk.errors.EventParseError`.

The ``type`` strings live only in this module.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, TypeAlias, TypeVar

import attrs

from .errors import EventParseError
from .session_config import SessionConfig, WireShape

__all__ = (
    # client events
    "SessionUpdate",
    "TranscriptionSessionUpdate",
    "InputAudioBufferAppend",
    "InputAudioBufferCommit",
    "InputAudioBufferClear",
    "OutputAudioBufferClear",
    "ConversationItemCreate",
    "ConversationItemRetrieve",
    "ConversationItemTruncate",
    "ConversationItemDelete",
    "ResponseCreate",
    "ResponseCancel",
    "ClientEvent",
    "CLIENT_EVENT_CLASSES",
    # server events
    "SessionCreated",
    "SessionUpdated",
    "TranscriptionSessionUpdated",
    "ConversationCreated",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioBufferCommitted",
    "InputAudioBufferCleared",
    "InputAudioBufferTimeoutTriggered",
    "InputAudioBufferDtmfEventReceived",
    "OutputAudioBufferStarted",
    "OutputAudioBufferStopped",
    "OutputAudioBufferCleared",
    "ConversationItemAdded",
    "ConversationItemDone",
    "ConversationItemRetrieved",
    "ConversationItemTruncated",
    "ConversationItemDeleted",
    "InputAudioTranscriptionDelta",
    "InputAudioTranscriptionSegment",
    "InputAudioTranscriptionCompleted",
    "InputAudioTranscriptionFailed",
    "ResponseCreated",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseOutputTextDelta",
    "ResponseOutputTextDone",
    "ResponseOutputAudioDelta",
    "ResponseOutputAudioDone",
    "ResponseOutputAudioTranscriptDelta",
    "ResponseOutputAudioTranscriptDone",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "McpListToolsInProgress",
    "McpListToolsCompleted",
    "McpListToolsFailed",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallInProgress",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseDone",
    "RateLimitsUpdated",
    "ServerError",
    "UnknownServerEvent",
    "ServerEvent",
    "SERVER_EVENT_CLASSES",
    # parts
    "ResponseInfo",
    "ResponseUsage",
    "StatusDetails",
    "ErrorInfo",
    "ResponseStatus",
    # codec
    "MAX_JSON_DEPTH",
    "load_json",
    "parse_server_event",
    "parse_client_event",
    "encode",
    "to_dict",
    "wire_type",
)

ResponseStatus = Literal["completed", "cancelled", "incomplete", "failed", "in_progress"]
_STATUSES = ("completed", "cancelled", "incomplete", "failed", "in_progress")

#: How deeply a frame's JSON may nest. Protocol frames nest a few levels (a tool's JSON schema
#: a few more); the limit keeps a hostile frame from exhausting the interpreter's stack in
#: whatever walks the decoded value later.
MAX_JSON_DEPTH = 128

# Field kinds drive the generic codec: each attrs field carries one in its metadata.
_KIND = "realtalk_kind"


def _field(kind: str, *, optional: bool = False, default: Any = attrs.NOTHING,
           null: bool = False) -> Any:
    """An event field of ``kind``; ``null``: sent as JSON null when unset, not left out."""
    if optional and default is attrs.NOTHING:
        default = None
    return attrs.field(default=default, metadata={_KIND: (kind, optional, null)})


def _str(*, optional: bool = False, default: Any = attrs.NOTHING, null: bool = False) -> Any:
    return _field("str", optional=optional, default=default, null=null)


def _int(*, optional: bool = False, default: Any = attrs.NOTHING) -> Any:
    return _field("int", optional=optional, default=default)


def _float() -> Any:
    return _field("float")


def _audio() -> Any:
    return _field("audio", default=b"")


def _obj(*, optional: bool = False) -> Any:
    if optional:
        return _field("obj", optional=True)
    return attrs.field(factory=dict, metadata={_KIND: ("obj", False, False)})


def _objs(*, optional: bool = False) -> Any:
    """A list of JSON objects, held as a tuple of mappings."""
    return _field("objs", optional=optional, default=None if optional else ())


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


@attrs.frozen(kw_only=True)
class _InContentPart(_Event):
    """Base of the events about one content part of a response's output item."""

    response_id: str = _str()
    item_id: str = _str()
    output_index: int = _int(default=0)
    content_index: int = _int(default=0)


@attrs.frozen(kw_only=True)
class _OfResponse(_Event):
    """Base of the events that name only a response."""

    response_id: str = _str()


@attrs.frozen(kw_only=True)
class _OfItem(_Event):
    """Base of the events that name only an item."""

    item_id: str = _str()


@attrs.frozen(kw_only=True)
class _OfOutputItem(_Event):
    """Base of the events that name an item and its place in the response's output."""

    item_id: str = _str()
    output_index: int = _int(default=0)


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
class ResponseUsage:
    """The token counts of a finished response (``usage`` of ``response.done``).

    ``input_token_details`` / ``output_token_details`` split the counts by kind
    (``text_tokens``, ``audio_tokens``, ``cached_tokens``, ...), as the server reports them.
    """

    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_token_details: Mapping[str, Any] | None = None
    output_token_details: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class ResponseInfo:
    """The ``response`` object of ``response.created`` / ``response.done``.

    One value for both protocol shapes: ``output_modalities`` is beta's ``modalities``;
    ``voice`` and ``output_audio_format`` are GA's ``audio.output.voice`` / ``.format`` (the
    format in GA form, ``{"type": "audio/pcm", "rate": 24000}``; beta's ``"pcm16"``,
    ``"g711_ulaw"`` and ``"g711_alaw"`` map onto it). ``temperature`` exists in beta only.
    ``None`` means the server did not say.
    """

    id: str
    status: ResponseStatus = "in_progress"
    status_details: StatusDetails | None = None
    output: tuple[Mapping[str, Any], ...] = ()
    conversation_id: str | None = None
    output_modalities: tuple[str, ...] | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    metadata: Mapping[str, str] | None = None
    voice: str | None = None
    output_audio_format: Mapping[str, Any] | None = None
    temperature: float | None = None
    usage: ResponseUsage | None = None


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
class TranscriptionSessionUpdate(_Event):
    """Configure a beta transcription session (GA: ``session.update`` with
    ``session.type: "transcription"``); ``session`` is passed through as is."""

    TYPE: ClassVar[str] = "transcription_session.update"
    session: Mapping[str, Any] = _obj()
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
class OutputAudioBufferClear(_Event):
    """Cut off the audio the server is playing out (WebRTC and SIP connections only)."""

    TYPE: ClassVar[str] = "output_audio_buffer.clear"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemCreate(_Event):
    """Add an item (message, function output, ...) to the conversation."""

    TYPE: ClassVar[str] = "conversation.item.create"
    item: Mapping[str, Any] = _obj()
    previous_item_id: str | None = _str(optional=True, null=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemRetrieve(_Event):
    """Ask for the server's copy of an item (answered by ``conversation.item.retrieved``)."""

    TYPE: ClassVar[str] = "conversation.item.retrieve"
    item_id: str = _str()
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
    | TranscriptionSessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | OutputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemRetrieve
    | ConversationItemTruncate
    | ConversationItemDelete
    | ResponseCreate
    | ResponseCancel
)

# ---------------------------------------------------------------------------------------------
# Server events: session and conversation
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
class TranscriptionSessionUpdated(_Event):
    """A beta ``transcription_session.update`` was applied (GA reports ``session.updated``)."""

    TYPE: ClassVar[str] = "transcription_session.updated"
    session: Mapping[str, Any] = _obj()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationCreated(_Event):
    """A conversation was created (``conversation`` holds its ``id``)."""

    TYPE: ClassVar[str] = "conversation.created"
    conversation: Mapping[str, Any] = _obj()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemAdded(_Event):
    """An item was added to the conversation (beta: ``conversation.item.created``)."""

    TYPE: ClassVar[str] = "conversation.item.added"
    BETA_TYPE: ClassVar[str | None] = "conversation.item.created"
    item: Mapping[str, Any] = _obj()
    previous_item_id: str | None = _str(optional=True, null=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemDone(_Event):
    """An item is complete (its audio bytes are left out)."""

    TYPE: ClassVar[str] = "conversation.item.done"
    item: Mapping[str, Any] = _obj()
    previous_item_id: str | None = _str(optional=True, null=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ConversationItemRetrieved(_Event):
    """The answer to ``conversation.item.retrieve``: the item, with its audio."""

    TYPE: ClassVar[str] = "conversation.item.retrieved"
    item: Mapping[str, Any] = _obj()
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
class ConversationItemDeleted(_Event):
    """An item was removed from the conversation."""

    TYPE: ClassVar[str] = "conversation.item.deleted"
    item_id: str = _str()
    event_id: str | None = _event_id()


# ---------------------------------------------------------------------------------------------
# Server events: input and output audio buffers
# ---------------------------------------------------------------------------------------------


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
    previous_item_id: str | None = _str(optional=True, null=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioBufferCleared(_Event):
    """The input buffer was cleared."""

    TYPE: ClassVar[str] = "input_audio_buffer.cleared"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioBufferTimeoutTriggered(_Event):
    """The user stayed silent for ``idle_timeout_ms``; the silence became item ``item_id``."""

    TYPE: ClassVar[str] = "input_audio_buffer.timeout_triggered"
    audio_start_ms: int = _int()
    audio_end_ms: int = _int()
    item_id: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioBufferDtmfEventReceived(_Event):
    """A telephone keypress (SIP calls); ``received_at`` is a Unix time in seconds."""

    TYPE: ClassVar[str] = "input_audio_buffer.dtmf_event_received"
    event: str = _str()
    received_at: int = _int()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class OutputAudioBufferStarted(_OfResponse):
    """The server started playing a response's audio (WebRTC and SIP connections only)."""

    TYPE: ClassVar[str] = "output_audio_buffer.started"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class OutputAudioBufferStopped(_OfResponse):
    """The server played all of a response's audio (WebRTC and SIP connections only)."""

    TYPE: ClassVar[str] = "output_audio_buffer.stopped"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class OutputAudioBufferCleared(_OfResponse):
    """The server dropped the rest of a response's audio (WebRTC and SIP connections only)."""

    TYPE: ClassVar[str] = "output_audio_buffer.cleared"
    event_id: str | None = _event_id()


# ---------------------------------------------------------------------------------------------
# Server events: input transcription
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class InputAudioTranscriptionDelta(_Event):
    """Part of the transcript of a user audio item, as it is recognised."""

    TYPE: ClassVar[str] = "conversation.item.input_audio_transcription.delta"
    item_id: str = _str()
    content_index: int | None = _int(optional=True)
    delta: str | None = _str(optional=True)
    logprobs: tuple[Mapping[str, Any], ...] | None = _objs(optional=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioTranscriptionSegment(_Event):
    """One speaker-labelled segment of a user audio item (diarizing transcription models);
    ``start`` and ``end`` are seconds into the item."""

    TYPE: ClassVar[str] = "conversation.item.input_audio_transcription.segment"
    id: str = _str()
    item_id: str = _str()
    content_index: int = _int(default=0)
    text: str = _str()
    speaker: str = _str()
    start: float = _float()
    end: float = _float()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioTranscriptionCompleted(_Event):
    """The transcript of a user audio item; ``usage`` is what transcribing it cost
    (``{"type": "tokens", ...}`` or ``{"type": "duration", "seconds": ...}``)."""

    TYPE: ClassVar[str] = "conversation.item.input_audio_transcription.completed"
    item_id: str = _str()
    content_index: int = _int(default=0)
    transcript: str = _str()
    usage: Mapping[str, Any] | None = _obj(optional=True)
    logprobs: tuple[Mapping[str, Any], ...] | None = _objs(optional=True)
    languages: tuple[Mapping[str, Any], ...] | None = _objs(optional=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class InputAudioTranscriptionFailed(_Event):
    """Transcribing a user audio item failed; ``error`` says why."""

    TYPE: ClassVar[str] = "conversation.item.input_audio_transcription.failed"
    item_id: str = _str()
    content_index: int = _int(default=0)
    error: Mapping[str, Any] = _obj()
    event_id: str | None = _event_id()


# ---------------------------------------------------------------------------------------------
# Server events: responses
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ResponseCreated(_Event):
    """A response started."""

    TYPE: ClassVar[str] = "response.created"
    response: ResponseInfo = attrs.field(metadata={_KIND: ("response", False, False)})
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
class ResponseContentPartAdded(_InContentPart):
    """A content part (``part``: ``{"type": "audio" | "text", ...}``) began in an item."""

    TYPE: ClassVar[str] = "response.content_part.added"
    part: Mapping[str, Any] = _obj()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseContentPartDone(_InContentPart):
    """A content part is complete; ``part`` holds its final text or transcript."""

    TYPE: ClassVar[str] = "response.content_part.done"
    part: Mapping[str, Any] = _obj()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputTextDelta(_InContentPart):
    """Assistant text of a text-only response (beta: ``response.text.delta``)."""

    TYPE: ClassVar[str] = "response.output_text.delta"
    BETA_TYPE: ClassVar[str | None] = "response.text.delta"
    delta: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputTextDone(_InContentPart):
    """The full text of an assistant text part (beta: ``response.text.done``)."""

    TYPE: ClassVar[str] = "response.output_text.done"
    BETA_TYPE: ClassVar[str | None] = "response.text.done"
    text: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputAudioDelta(_InContentPart):
    """A chunk of assistant audio, PCM16 mono 24 kHz (beta: ``response.audio.delta``)."""

    TYPE: ClassVar[str] = "response.output_audio.delta"
    BETA_TYPE: ClassVar[str | None] = "response.audio.delta"
    delta: bytes = _audio()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputAudioDone(_InContentPart):
    """The assistant audio of one content part is complete (beta: ``response.audio.done``)."""

    TYPE: ClassVar[str] = "response.output_audio.done"
    BETA_TYPE: ClassVar[str | None] = "response.audio.done"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputAudioTranscriptDelta(_InContentPart):
    """Assistant audio text as generated (beta: ``response.audio_transcript.delta``)."""

    TYPE: ClassVar[str] = "response.output_audio_transcript.delta"
    BETA_TYPE: ClassVar[str | None] = "response.audio_transcript.delta"
    delta: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseOutputAudioTranscriptDone(_InContentPart):
    """The full transcript of an assistant audio part (beta: ``response.audio_transcript.done``)."""

    TYPE: ClassVar[str] = "response.output_audio_transcript.done"
    BETA_TYPE: ClassVar[str | None] = "response.audio_transcript.done"
    transcript: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseFunctionCallArgumentsDelta(_Event):
    """Part of the JSON arguments of a function call the model is making."""

    TYPE: ClassVar[str] = "response.function_call_arguments.delta"
    response_id: str = _str()
    item_id: str = _str()
    output_index: int = _int(default=0)
    call_id: str = _str()
    delta: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseFunctionCallArgumentsDone(_Event):
    """The complete JSON arguments of a function call (``name`` is GA only)."""

    TYPE: ClassVar[str] = "response.function_call_arguments.done"
    response_id: str = _str()
    item_id: str = _str()
    output_index: int = _int(default=0)
    call_id: str = _str()
    arguments: str = _str()
    name: str | None = _str(optional=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class McpListToolsInProgress(_OfItem):
    """The server is listing the tools of an MCP server (item ``item_id``)."""

    TYPE: ClassVar[str] = "mcp_list_tools.in_progress"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class McpListToolsCompleted(_OfItem):
    """The tools of an MCP server were listed."""

    TYPE: ClassVar[str] = "mcp_list_tools.completed"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class McpListToolsFailed(_OfItem):
    """Listing the tools of an MCP server failed."""

    TYPE: ClassVar[str] = "mcp_list_tools.failed"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseMcpCallArgumentsDelta(_Event):
    """Part of the JSON arguments of an MCP tool call."""

    TYPE: ClassVar[str] = "response.mcp_call_arguments.delta"
    response_id: str = _str()
    item_id: str = _str()
    output_index: int = _int(default=0)
    delta: str = _str()
    obfuscation: str | None = _str(optional=True)
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseMcpCallArgumentsDone(_Event):
    """The complete JSON arguments of an MCP tool call."""

    TYPE: ClassVar[str] = "response.mcp_call_arguments.done"
    response_id: str = _str()
    item_id: str = _str()
    output_index: int = _int(default=0)
    arguments: str = _str()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseMcpCallInProgress(_OfOutputItem):
    """An MCP tool call started."""

    TYPE: ClassVar[str] = "response.mcp_call.in_progress"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseMcpCallCompleted(_OfOutputItem):
    """An MCP tool call succeeded."""

    TYPE: ClassVar[str] = "response.mcp_call.completed"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseMcpCallFailed(_OfOutputItem):
    """An MCP tool call failed."""

    TYPE: ClassVar[str] = "response.mcp_call.failed"
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ResponseDone(_Event):
    """A response ended; ``response.status`` says how (``cancelled`` after a barge-in)."""

    TYPE: ClassVar[str] = "response.done"
    response: ResponseInfo = attrs.field(metadata={_KIND: ("response", False, False)})
    event_id: str | None = _event_id()


# ---------------------------------------------------------------------------------------------
# Server events: limits and errors
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RateLimitsUpdated(_Event):
    """The account's rate limits (``name``, ``limit``, ``remaining``, ``reset_seconds``)."""

    TYPE: ClassVar[str] = "rate_limits.updated"
    rate_limits: tuple[Mapping[str, Any], ...] = _objs()
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class ServerError(_Event):
    """An ``error`` event. Most are not fatal (e.g. ``response_cancel_not_active``)."""

    TYPE: ClassVar[str] = "error"
    error: ErrorInfo = attrs.field(metadata={_KIND: ("error", False, False)})
    event_id: str | None = _event_id()


@attrs.frozen(kw_only=True)
class UnknownServerEvent:
    """A server event realtalk has no class for; ``payload`` is the whole decoded frame."""

    type: str
    payload: Mapping[str, Any]


ServerEvent: TypeAlias = (
    SessionCreated
    | SessionUpdated
    | TranscriptionSessionUpdated
    | ConversationCreated
    | InputAudioBufferSpeechStarted
    | InputAudioBufferSpeechStopped
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | InputAudioBufferTimeoutTriggered
    | InputAudioBufferDtmfEventReceived
    | OutputAudioBufferStarted
    | OutputAudioBufferStopped
    | OutputAudioBufferCleared
    | ConversationItemAdded
    | ConversationItemDone
    | ConversationItemRetrieved
    | ConversationItemTruncated
    | ConversationItemDeleted
    | InputAudioTranscriptionDelta
    | InputAudioTranscriptionSegment
    | InputAudioTranscriptionCompleted
    | InputAudioTranscriptionFailed
    | ResponseCreated
    | ResponseOutputItemAdded
    | ResponseOutputItemDone
    | ResponseContentPartAdded
    | ResponseContentPartDone
    | ResponseOutputTextDelta
    | ResponseOutputTextDone
    | ResponseOutputAudioDelta
    | ResponseOutputAudioDone
    | ResponseOutputAudioTranscriptDelta
    | ResponseOutputAudioTranscriptDone
    | ResponseFunctionCallArgumentsDelta
    | ResponseFunctionCallArgumentsDone
    | McpListToolsInProgress
    | McpListToolsCompleted
    | McpListToolsFailed
    | ResponseMcpCallArgumentsDelta
    | ResponseMcpCallArgumentsDone
    | ResponseMcpCallInProgress
    | ResponseMcpCallCompleted
    | ResponseMcpCallFailed
    | ResponseDone
    | RateLimitsUpdated
    | ServerError
    | UnknownServerEvent
)

#: Every client event class, in the order of :data:`ClientEvent`.
CLIENT_EVENT_CLASSES: tuple[type[ClientEvent], ...] = (
    SessionUpdate,
    TranscriptionSessionUpdate,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    InputAudioBufferClear,
    OutputAudioBufferClear,
    ConversationItemCreate,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    ConversationItemDelete,
    ResponseCreate,
    ResponseCancel,
)
#: Every typed server event class (all of :data:`ServerEvent` but :class:`UnknownServerEvent`).
SERVER_EVENT_CLASSES: tuple[type[ServerEvent], ...] = (
    SessionCreated,
    SessionUpdated,
    TranscriptionSessionUpdated,
    ConversationCreated,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferCommitted,
    InputAudioBufferCleared,
    InputAudioBufferTimeoutTriggered,
    InputAudioBufferDtmfEventReceived,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    OutputAudioBufferCleared,
    ConversationItemAdded,
    ConversationItemDone,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    ConversationItemDeleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionSegment,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionFailed,
    ResponseCreated,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    McpListToolsInProgress,
    McpListToolsCompleted,
    McpListToolsFailed,
    ResponseMcpCallArgumentsDelta,
    ResponseMcpCallArgumentsDone,
    ResponseMcpCallInProgress,
    ResponseMcpCallCompleted,
    ResponseMcpCallFailed,
    ResponseDone,
    RateLimitsUpdated,
    ServerError,
)


def _registry(classes: tuple[type[Any], ...]) -> dict[str, type[_Event]]:
    table: dict[str, type[_Event]] = {}
    for cls in classes:
        table[cls.TYPE] = cls
        if cls.BETA_TYPE is not None:
            table[cls.BETA_TYPE] = cls
    return table


_CLIENT_TYPES = _registry(CLIENT_EVENT_CLASSES)
_SERVER_TYPES = _registry(SERVER_EVENT_CLASSES)

# ---------------------------------------------------------------------------------------------
# Codec
# ---------------------------------------------------------------------------------------------

_E = TypeVar("_E")

# Beta's output audio format names and the GA format objects they stand for.
_BETA_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}


def wire_type(cls: type[ClientEvent | ServerEvent], shape: WireShape = "ga") -> str:
    """The ``type`` that events of ``cls`` carry on the wire in ``shape``."""
    if not issubclass(cls, _Event):
        raise TypeError(f"{cls.__name__} has no fixed wire type")
    return cls.BETA_TYPE if shape == "beta" and cls.BETA_TYPE else cls.TYPE


def load_json(frame: str | bytes, *, max_depth: int | None = MAX_JSON_DEPTH) -> Any:
    """Decode one JSON frame from a peer; the value may be any JSON value.

    Strict JSON only: ``NaN`` and ``Infinity`` are refused, and so are numbers out of a
    double's range (``1e999``, an integer of hundreds of digits), which no peer means; arrays
    and objects may nest at most ``max_depth`` levels (``None``: as deep as the parser's
    stack allows, and an error past that, not a crash). The one decoder every peer's frames go
    through: the client's, the embedded server's and the relay's.

    Raises:
        EventParseError: the frame is not valid JSON (or not UTF-8), or nests too deeply.
            Nothing else, whatever the frame holds.
    """
    try:
        text = frame.decode("utf-8") if isinstance(frame, bytes) else frame
        value = _DECODER.decode(text)
    except RecursionError as exc:
        deep = (f"nested more than {max_depth} levels deep" if max_depth is not None
                else "nested too deeply for the parser")
        raise EventParseError(f"frame is not valid JSON: {deep}") from exc
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        raise EventParseError(f"frame is not valid JSON: {exc}") from exc
    if max_depth is not None and _nests_deeper_than(value, max_depth):
        raise EventParseError(f"frame is not valid JSON: nested more than {max_depth} levels deep")
    return value


# The longest integer literal (sign included) within a double's range (about 1.8e308): past
# it, JSON parsers disagree on what the number is.
_MAX_INT_CHARS = 310


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"the number {literal[:40]} is out of range")
    return value


def _bounded_int(literal: str) -> int:
    if len(literal) > _MAX_INT_CHARS:
        raise ValueError(f"an integer of {len(literal)} digits is out of range")
    return int(literal)


# Built once: json.loads(text, parse_int=...) would build a decoder per call.
_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_int=_bounded_int,
                            parse_constant=_refuse_constant)


def _nests_deeper_than(value: object, limit: int) -> bool:
    # Iterative, so a deep value cannot exhaust the stack while it is being measured.
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


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
    """The JSON object of ``event``; ``shape="beta"`` uses the beta names and layouts.

    Unset (``None``) fields are left out, except those the protocol sends as ``null``
    (``previous_item_id``).
    """
    if isinstance(event, UnknownServerEvent):
        return dict(event.payload)
    out: dict[str, Any] = {"type": wire_type(type(event), shape)}
    for field in attrs.fields(type(event)):
        value = getattr(event, field.name)
        if field.name == "shape":
            continue
        if field.name == "session" and isinstance(value, SessionConfig):
            out["session"] = value.to_dict(
                event.shape if isinstance(event, SessionUpdate) else shape
            )
            continue
        kind, _, null = field.metadata.get(_KIND, ("obj", True, False))
        if value is None:
            if null:
                out[field.name] = None
        elif kind == "audio":
            out[field.name] = base64.b64encode(value).decode("ascii")
        elif kind == "objs":
            out[field.name] = [dict(o) for o in value]
        elif kind == "response":
            out[field.name] = _response_to_dict(value, shape)
        elif kind == "error":
            out[field.name] = attrs.asdict(value)
        else:
            out[field.name] = value
    return out


def encode(event: ClientEvent | ServerEvent, shape: WireShape = "ga") -> str:
    """Serialize ``event`` as a JSON text frame."""
    return json.dumps(to_dict(event, shape), separators=(",", ":"))


def _load(frame: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    payload: object = frame if isinstance(frame, Mapping) else load_json(frame)
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
        kind, optional, _ = field.metadata.get(_KIND, ("obj", False, False))
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


def _bad(event_type: str, name: str, expected: str, value: object) -> EventParseError:
    return EventParseError(
        f"{event_type}: field {name!r} must be {expected}, got {type(value).__name__}",
        event_type=event_type,
        field=name,
    )


def _decode_value(kind: str, value: Any, name: str, event_type: str) -> Any:
    if kind == "str":
        if not isinstance(value, str):
            raise _bad(event_type, name, "a string", value)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(event_type, name, "an integer", value)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(event_type, name, "a number", value)
        return float(value)
    if kind == "audio":
        return _decode_audio(value, name, event_type)
    if kind == "response":
        return _response_from(value, name, event_type)
    if kind == "error":
        if not isinstance(value, Mapping):
            raise _bad(event_type, name, "an object", value)
        message = value.get("message", "")
        return ErrorInfo(
            type=str(value.get("type", "error")),
            message=str(message),
            code=_opt_text(value.get("code")),
            param=_opt_text(value.get("param")),
            event_id=_opt_text(value.get("event_id")),
        )
    if kind == "objs":
        return _objects(value, name, event_type)
    if not isinstance(value, Mapping):
        raise _bad(event_type, name, "an object", value)
    return value


def _decode_audio(value: Any, name: str, event_type: str) -> bytes:
    if not isinstance(value, str):
        raise _bad(event_type, name, "base64 audio", value)
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


def _objects(value: Any, name: str, event_type: str) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list) or not all(isinstance(o, Mapping) for o in value):
        raise EventParseError(
            f"{event_type}: field {name!r} must be a list of objects",
            event_type=event_type,
            field=name,
        )
    return tuple(value)


def _opt_text(value: object) -> str | None:
    return None if value is None else str(value)


def _response_from(value: Any, name: str, event_type: str) -> ResponseInfo:
    if not isinstance(value, Mapping):
        raise EventParseError(
            f"{event_type}: field {name!r} must be an object", event_type=event_type, field=name
        )

    def bad(key: str, expected: str, got: object) -> EventParseError:
        return EventParseError(
            f"{event_type}: field '{name}.{key}' must be {expected}, got {got!r}",
            event_type=event_type,
            field=f"{name}.{key}",
        )

    def text(key: str, obj: Mapping[str, Any] = value) -> str | None:
        got = obj.get(key)
        if got is not None and not isinstance(got, str):
            raise bad(key, "a string", got)
        return got

    response_id = value.get("id")
    if not isinstance(response_id, str):
        raise bad("id", "a string", response_id)
    status = value.get("status", "in_progress")
    if status not in _STATUSES:
        raise bad("status", f"one of {_STATUSES}", status)
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
        raise bad("status_details", "an object or null", details_obj)
    output = _objects(value.get("output") or [], f"{name}.output", event_type)
    modalities = value.get("output_modalities", value.get("modalities"))
    if modalities is not None and (
        not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities)
    ):
        raise bad("output_modalities", "a list of strings", modalities)
    max_tokens = value.get("max_output_tokens")
    if max_tokens is not None and max_tokens != "inf" and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
    ):
        raise bad("max_output_tokens", "an integer or 'inf'", max_tokens)
    metadata = value.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, Mapping) or not all(isinstance(v, str) for v in metadata.values())
    ):
        raise bad("metadata", "an object of strings", metadata)
    temperature = value.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, (int, float))
    ):
        raise bad("temperature", "a number", temperature)
    voice, audio_format = _response_audio(value, bad, text)
    usage = value.get("usage")
    if usage is not None and not isinstance(usage, Mapping):
        raise bad("usage", "an object or null", usage)
    return ResponseInfo(
        id=response_id,
        status=status,
        status_details=details,
        output=output,
        conversation_id=text("conversation_id"),
        output_modalities=None if modalities is None else tuple(modalities),
        max_output_tokens=max_tokens,
        metadata=metadata,
        voice=voice,
        output_audio_format=audio_format,
        temperature=None if temperature is None else float(temperature),
        usage=None if usage is None else _usage_from(usage),
    )


def _response_audio(
    value: Mapping[str, Any],
    bad: Callable[[str, str, object], EventParseError],
    text: Callable[..., str | None],
) -> tuple[str | None, Mapping[str, Any] | None]:
    """``(voice, output format)`` of a response object in either shape; ``bad`` and ``text``
    are the caller's error and string-field helpers."""
    audio = value.get("audio")
    if audio is None:  # beta, or a GA response that did not say
        beta_format = text("output_audio_format")
        fmt = None if beta_format is None else _BETA_FORMATS.get(beta_format,
                                                                  {"type": beta_format})
        return text("voice"), fmt
    output = audio.get("output") if isinstance(audio, Mapping) else None
    if not isinstance(audio, Mapping) or not isinstance(output, (Mapping, type(None))):
        raise bad("audio", "an object like {'output': {'format': ..., 'voice': ...}}", audio)
    output = output or {}
    fmt = output.get("format")
    if fmt is not None and not isinstance(fmt, Mapping):
        raise bad("audio.output.format", "an object", fmt)
    return text("voice", output), fmt


def _usage_from(usage: Mapping[str, Any]) -> ResponseUsage:
    def count(key: str) -> int | None:
        got = usage.get(key)
        return got if isinstance(got, int) and not isinstance(got, bool) else None

    def details(key: str) -> Mapping[str, Any] | None:
        got = usage.get(key)
        return got if isinstance(got, Mapping) else None

    return ResponseUsage(
        total_tokens=count("total_tokens"),
        input_tokens=count("input_tokens"),
        output_tokens=count("output_tokens"),
        input_token_details=details("input_token_details"),
        output_token_details=details("output_token_details"),
    )


def _response_to_dict(info: ResponseInfo, shape: WireShape) -> dict[str, Any]:
    details = None
    if info.status_details is not None:
        details = {k: v for k, v in attrs.asdict(info.status_details).items() if v is not None}
    out: dict[str, Any] = {
        "id": info.id,
        "object": "realtime.response",
        "status": info.status,
        "status_details": details,
        "output": [dict(o) for o in info.output],
    }
    if info.conversation_id is not None:
        out["conversation_id"] = info.conversation_id
    if info.output_modalities is not None:
        key = "output_modalities" if shape == "ga" else "modalities"
        out[key] = list(info.output_modalities)
    if info.max_output_tokens is not None:
        out["max_output_tokens"] = info.max_output_tokens
    if info.metadata is not None:
        out["metadata"] = dict(info.metadata)
    if shape == "ga":
        audio_out: dict[str, Any] = {}
        if info.output_audio_format is not None:
            audio_out["format"] = dict(info.output_audio_format)
        if info.voice is not None:
            audio_out["voice"] = info.voice
        if audio_out:
            out["audio"] = {"output": audio_out}
    else:
        if info.voice is not None:
            out["voice"] = info.voice
        if info.output_audio_format is not None:
            out["output_audio_format"] = _beta_format(info.output_audio_format)
        if info.temperature is not None:
            out["temperature"] = info.temperature
    if info.usage is not None:
        out["usage"] = {k: v for k, v in attrs.asdict(info.usage).items() if v is not None}
    return out


def _beta_format(fmt: Mapping[str, Any]) -> str:
    for name, ga in _BETA_FORMATS.items():
        if ga["type"] == fmt.get("type"):
            return name
    return str(fmt.get("type"))


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
