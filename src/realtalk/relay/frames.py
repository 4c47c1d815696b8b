"""Recognising frames cheaply, and the relay's own ``error`` events.

Audio dominates the traffic: ``input_audio_buffer.append`` from clients and
``response.output_audio.delta`` from the upstream. The relay forwards those without decoding
their JSON; every other frame is decoded (policy and ownership need its fields).

A client frame takes the fast path only when it *provably* is an append: it starts with
``{"type":"input_audio_buffer.append"``, holds no other ``"type"`` key and no backslash. The
last two rule out a second ``type`` key, plain or written with escapes (``"typ\\u0065"``),
which a JSON parser upstream might read instead of the first. A frame that fails the test is
simply decoded.

Errors the relay sends look like the hosted service's: ``{"type": "error", "event_id": ...,
"error": {"type", "code", "message", "param", "event_id"}}``, where ``error.event_id`` is the
offending client event's own ``event_id``.
"""

from __future__ import annotations

import secrets
from typing import Final

import attrs

from ..events import ErrorInfo, ServerError, encode

__all__ = (
    "Refusal",
    "error_frame",
    "is_plain_append",
    "audio_delta",
    "AUDIO_DELTA_TYPES",
    "INVALID_JSON",
    "EVENT_NOT_ALLOWED",
    "FIELD_NOT_ALLOWED",
    "MESSAGE_TOO_LARGE",
    "RATE_LIMIT_EXCEEDED",
    "SESSION_NOT_OWNED",
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
TOO_MANY_VIOLATIONS: Final = "too_many_violations"
UPSTREAM_UNAVAILABLE: Final = "upstream_unavailable"
UPSTREAM_DISCONNECTED: Final = "upstream_disconnected"
UPSTREAM_TIMEOUT: Final = "upstream_timeout"
SESSION_ALREADY_CONNECTED: Final = "session_already_connected"
RELAY_AT_CAPACITY: Final = "relay_at_capacity"

AUDIO_DELTA_TYPES: Final = ("response.output_audio.delta", "response.audio.delta")

_APPEND_PREFIX = '{"type":"input_audio_buffer.append"'
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


def error_frame(refusal: Refusal, client_event_id: str | None = None) -> str:
    """The ``error`` event telling a client about ``refusal`` (a JSON text frame)."""
    error = ErrorInfo(type=refusal.error_type, code=refusal.code, message=refusal.message,
                      param=refusal.param, event_id=client_event_id)
    return encode(ServerError(error=error, event_id="event_" + secrets.token_hex(11)))


def is_plain_append(text: str) -> bool:
    """Whether a client frame is certainly an ``input_audio_buffer.append`` (see the module
    docstring); ``False`` means "decode it", not "it is not an append"."""
    return (text.startswith(_APPEND_PREFIX) and "\\" not in text
            and text.find('"type"', len(_APPEND_PREFIX)) < 0)


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
