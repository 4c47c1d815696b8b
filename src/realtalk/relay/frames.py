"""Reading client and upstream frames safely and cheaply, and the relay's own ``error`` events.

Every client frame is parsed by :func:`parse_client_frame` into a :class:`ClientFrame` (or a
:class:`Refusal`) before the policy and the ownership check see it. Whatever a client sends
(a binary frame, invalid JSON, nesting deep enough to exhaust a recursive parser, numbers out
of range, the wrong JSON types), the answer is a refusal, never an exception.
Upstream frames are decoded the same guarded way (:func:`realtalk.wire.load_json`).

Every client frame is decoded, audio included, so the policy and the ownership check apply to
every frame alike. What is saved on the audio path (``input_audio_buffer.append``, most of the
traffic) is the re-encoding: a frame that is a flat object of strings, compact, without
escapes or duplicate keys, already is exactly what re-encoding would give, and is forwarded
as received. Any other frame is forwarded re-encoded, so a frame with a duplicate key or an
escaped key (``"typ\\u0065"``) cannot mean one thing to the relay and another to the
upstream's parser. Upstream audio deltas are read without decoding (:func:`audio_delta`).

Errors the relay sends look like the hosted service's: ``{"type": "error", "event_id": ...,
"error": {"type", "code", "message", "param", "event_id"}}``, where ``error.event_id`` is the
offending client event's own ``event_id``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ..errors import EventParseError
from ..wire import ErrorInfo, ServerError, encode, load_json
from .tokens import SessionClaims

__all__ = (
    "ClientFrame",
    "Refusal",
    "parse_client_frame",
    "error_frame",
    "audio_delta",
    "APPEND",
    "AUDIO_DELTA_TYPES",
    "DEFAULT_MAX_JSON_DEPTH",
    "INVALID_JSON",
    "EVENT_NOT_ALLOWED",
    "FIELD_NOT_ALLOWED",
    "MESSAGE_TOO_LARGE",
    "RATE_LIMIT_EXCEEDED",
    "SESSION_NOT_OWNED",
    "TOOL_CALL_NOT_OWNED",
    "TOOL_NAME_RESERVED",
    "TOO_MANY_VIOLATIONS",
    "UPSTREAM_UNAVAILABLE",
    "UPSTREAM_DISCONNECTED",
    "UPSTREAM_TIMEOUT",
    "SESSION_ALREADY_CONNECTED",
    "RELAY_AT_CAPACITY",
)

# Error codes the relay itself sends (client faults are invalid_request_error, the rest
# server_error).
INVALID_JSON: Final = "invalid_json"
EVENT_NOT_ALLOWED: Final = "event_not_allowed"
FIELD_NOT_ALLOWED: Final = "field_not_allowed"
MESSAGE_TOO_LARGE: Final = "message_too_large"
RATE_LIMIT_EXCEEDED: Final = "rate_limit_exceeded"
SESSION_NOT_OWNED: Final = "session_not_owned"
TOOL_CALL_NOT_OWNED: Final = "tool_call_not_owned"
TOOL_NAME_RESERVED: Final = "tool_name_reserved"
TOO_MANY_VIOLATIONS: Final = "too_many_violations"
UPSTREAM_UNAVAILABLE: Final = "upstream_unavailable"
UPSTREAM_DISCONNECTED: Final = "upstream_disconnected"
UPSTREAM_TIMEOUT: Final = "upstream_timeout"
SESSION_ALREADY_CONNECTED: Final = "session_already_connected"
RELAY_AT_CAPACITY: Final = "relay_at_capacity"

APPEND: Final = "input_audio_buffer.append"
AUDIO_DELTA_TYPES: Final = ("response.output_audio.delta", "response.audio.delta")

#: How deep a client frame's JSON may nest by default: the protocol's own events need under
#: ten levels, a tool's JSON schema a few more.
DEFAULT_MAX_JSON_DEPTH: Final = 64

_DELTA_PREFIXES = tuple('{"type":"' + name + '"' for name in AUDIO_DELTA_TYPES)
_ITEM_ID = '"item_id":"'
_DELTA = '"delta":"'


@attrs.frozen
class Refusal:
    """Why a client frame is not forwarded; becomes an ``error`` event for that client.

    Attributes:
        code: the ``error.code`` (``event_not_allowed``, ``session_not_owned``, ...).
        message: a human-readable reason naming the refused value.
        param: the offending field's dotted path, if one field is to blame.
        error_type: the ``error.type``; client faults are ``invalid_request_error``.
    """

    code: str
    message: str
    param: str | None = None
    error_type: str = "invalid_request_error"


@attrs.frozen(kw_only=True)
class ClientFrame:
    """One client frame, parsed, as the policy and the ownership check see it.

    Attributes:
        type: the event ``type``.
        payload: the decoded JSON object.
        text: the frame as it is forwarded: the compact JSON encoding of ``payload``.
        claims: who sent it (session id, subject).
    """

    type: str
    payload: Mapping[str, Any]
    text: str
    claims: SessionClaims

    @property
    def size(self) -> int:
        """The frame's length in characters (bytes, for the usual ASCII frames)."""
        return len(self.text)


def _as_received(text: str, payload: dict[str, Any]) -> bool:
    """Whether ``text`` already is the compact encoding of ``payload``, its decoding.

    It is when ``payload`` is a flat object of strings and ``text`` has no backslash and the
    length of that encoding: without escapes, each decoded string appears in ``text`` as it
    is, so ``text`` holds every final key-value pair; any whitespace, any earlier duplicate
    of a key or any other member would make it longer.
    """
    if "\\" in text:
        return False
    size = 1 + len(payload)  # the braces and the commas
    for key, value in payload.items():
        if not isinstance(value, str):
            return False
        size += len(key) + len(value) + 5  # "key":"value"
    return size == len(text)


def parse_client_frame(message: str | bytes, claims: SessionClaims, *,
                       max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> ClientFrame | Refusal:
    """Parse one client frame, or say why it cannot be forwarded; never raises.

    A frame must be a text frame holding a JSON object (within
    :func:`realtalk.wire.load_json`'s rules,
    nesting at most ``max_depth`` levels) with a string ``type`` and, if it has one, a string
    ``event_id``. Refusals are ``invalid_json``.
    """
    if isinstance(message, bytes):
        return Refusal(INVALID_JSON, "Expected a text frame holding a JSON object; got a "
                       f"binary frame of {len(message)} bytes.")
    try:
        decoded = load_json(message, max_depth=max_depth)
    except EventParseError as exc:
        return Refusal(INVALID_JSON, f"The frame cannot be read: {exc}.")
    event_type = decoded.get("type") if isinstance(decoded, dict) else None
    if not isinstance(event_type, str):
        return Refusal(INVALID_JSON, "Expected a JSON object with a string 'type'.",
                       param="type")
    if not isinstance(decoded.get("event_id", ""), str):
        return Refusal(INVALID_JSON, f"Expected a string 'event_id', got "
                       f"{type(decoded['event_id']).__name__}.", param="event_id")
    text = message
    if not _as_received(message, decoded):
        text = json.dumps(decoded, separators=(",", ":"), ensure_ascii=False)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, written as a \u escape
            return Refusal(INVALID_JSON, "The frame cannot be read: a string in it is not "
                           "valid Unicode (a lone surrogate).")
    return ClientFrame(type=event_type, payload=decoded, text=text, claims=claims)


def error_frame(refusal: Refusal, client_event_id: str | None = None) -> str:
    """The ``error`` event telling a client about ``refusal`` (a JSON text frame)."""
    error = ErrorInfo(type=refusal.error_type, code=refusal.code, message=refusal.message,
                      param=refusal.param, event_id=client_event_id)
    return encode(ServerError(error=error, event_id="event_" + secrets.token_hex(11)))


def audio_delta(text: str) -> tuple[str, int] | None:
    """``(item_id, audio bytes)`` of an upstream audio delta, read without decoding the JSON.

    ``None`` when the frame is not an audio delta laid out the usual way (``type`` first,
    compact separators); the caller then decodes it. Upstream frames are trusted, so no
    escape handling is needed.
    """
    if not text.startswith(_DELTA_PREFIXES):
        return None
    at = text.find(_ITEM_ID)
    start = text.find(_DELTA)
    if at < 0 or start < 0:
        return None
    at += len(_ITEM_ID)
    start += len(_DELTA)
    item_end = text.find('"', at)
    end = text.find('"', start)
    if item_end < 0 or end < 0:
        return None
    length = end - start
    padding = (text[end - 1] == "=") + (text[end - 2] == "=") if length >= 2 else 0
    return text[at:item_end], max(0, length * 3 // 4 - padding)
