"""The server's conversation: items, their wire rendering, and the client items it accepts.

Items are mutable records (an assistant item grows while its response plays out, and shrinks
when truncated); :func:`render_item` snapshots one as the JSON object of the protocol, with the
content part names of the session's shape (GA ``output_audio`` / beta ``audio``).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from ..session_config import WireShape
from .responder import ConversationTurn
from .voice import WordTiming

__all__ = ("ConversationItems", "ContentPart", "Item", "RequestError", "item_from_client",
           "render_item")

_ITEM_TYPES = ("message", "function_call", "function_call_output")
_ROLES = ("user", "assistant", "system")
# Canonical (GA) part types by role; beta spellings are mapped onto them on input.
_PART_TYPES = {
    "user": ("input_text", "input_audio"),
    "system": ("input_text",),
    "assistant": ("output_text", "output_audio"),
}
_BETA_TO_GA = {"text": "output_text", "audio": "output_audio"}
_GA_TO_BETA = {"output_text": "text", "output_audio": "audio"}
# The fields of function items: (required, optional).
_FUNCTION_FIELDS = {
    "function_call": (("name", "arguments"), ("call_id",)),
    "function_call_output": (("call_id", "output"), ()),
}


class RequestError(ValueError):
    """A field of a client event is invalid; ``param`` is its dotted path (e.g. ``item.role``).

    The session turns it into an error event with ``code`` (``invalid_value``, or
    ``missing_required_parameter``); it never leaves the server.
    """

    def __init__(self, message: str, param: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


@attrs.define
class ContentPart:
    """One content part; ``type`` is the GA name (``input_text``, ``output_audio``, ...)."""

    type: str
    text: str | None = None
    transcript: str | None = None


@attrs.define
class Item:
    """A conversation item. ``audio`` holds the PCM16 of its audio part (input or output)."""

    id: str
    type: str = "message"
    role: str | None = None
    status: str = "completed"
    parts: list[ContentPart] = attrs.field(factory=list)
    fields: dict[str, Any] = attrs.field(factory=dict)
    audio: bytearray = attrs.field(factory=bytearray)
    words: tuple[WordTiming, ...] = ()
    # What the model made of a user audio item: the transcriber's words. The model hears
    # audio whether or not the session asked for transcription; only the asked-for
    # transcript reaches the client (in the content part and the transcription events).
    heard: str | None = None

    @property
    def audio_ms(self) -> float:
        """Duration of ``audio`` (PCM16 mono 24 kHz: 48 bytes per millisecond)."""
        return len(self.audio) / 48.0

    def is_assistant_audio(self) -> bool:
        """Whether this is an assistant message with an audio part (truncatable)."""
        return self.role == "assistant" and any(p.type == "output_audio" for p in self.parts)

    def text(self) -> str:
        """The item's words as text: ``text`` of text parts, ``transcript`` of audio parts
        (for user audio without one, what the model heard)."""
        pieces = [p.text if p.text is not None
                  else p.transcript if p.transcript is not None or p.type != "input_audio"
                  else self.heard for p in self.parts]
        return " ".join(p for p in pieces if p)


def render_item(item: Item, shape: WireShape, *, with_audio: bool = False) -> dict[str, Any]:
    """The item as the protocol's JSON object (``with_audio`` adds base64 audio to audio parts)."""
    out: dict[str, Any] = {"id": item.id, "object": "realtime.item", "type": item.type,
                           "status": item.status}
    if item.type == "message":
        out["role"] = item.role
        content = []
        for part in item.parts:
            name = _GA_TO_BETA.get(part.type, part.type) if shape == "beta" else part.type
            rendered: dict[str, Any] = {"type": name}
            if part.type.endswith("text"):
                rendered["text"] = part.text
            else:
                rendered["transcript"] = part.transcript
                if with_audio:
                    rendered["audio"] = base64.b64encode(bytes(item.audio)).decode("ascii")
            content.append(rendered)
        out["content"] = content
    out.update(item.fields)
    return out


def item_from_client(data: Mapping[str, Any], item_id: str) -> Item:
    """Validate a ``conversation.item.create`` item and build it (with ``item_id`` if it has none).

    Raises:
        RequestError: an unknown item type or role, a content part that does not fit the
            role, or a field of the wrong type.
    """
    kind = data.get("type", "message")
    if kind not in _ITEM_TYPES:
        raise RequestError(f"Invalid value: {kind!r}. Supported values are: {_ITEM_TYPES}.",
                           "item.type")
    given_id = data.get("id")
    if given_id is not None and not isinstance(given_id, str):
        raise RequestError(f"item.id must be a string, got {given_id!r}", "item.id")
    item = Item(id=given_id or item_id, type=kind)
    if kind != "message":
        required, optional = _FUNCTION_FIELDS[kind]
        for key in required:
            if data.get(key) is None:
                raise RequestError(f"Missing required parameter: 'item.{key}' (a {kind} item "
                                   f"needs {' and '.join(required)}).", f"item.{key}",
                                   "missing_required_parameter")
        for key in (*required, *optional):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise RequestError(f"item.{key} must be a string, got {type(value).__name__}",
                                   f"item.{key}")
            if value is not None:
                item.fields[key] = value
        return item
    role = data.get("role")
    if role not in _ROLES:
        raise RequestError(f"Invalid value: {role!r}. Supported values are: {_ROLES}.",
                           "item.role")
    item.role = role
    content = data.get("content", [])
    if not isinstance(content, list):
        raise RequestError(f"item.content must be a list, got {type(content).__name__}",
                           "item.content")
    for index, raw in enumerate(content):
        param = f"item.content[{index}]"
        if not isinstance(raw, Mapping):
            raise RequestError(f"{param} must be an object, got {type(raw).__name__}", param)
        raw_type = raw.get("type")
        if not isinstance(raw_type, str):
            raise RequestError(f"{param}.type must be a string, got {raw_type!r}",
                               f"{param}.type")
        part_type = _BETA_TO_GA.get(raw_type, raw_type)
        allowed = _PART_TYPES[role]
        if part_type not in allowed:
            raise RequestError(
                f"Invalid value: {raw.get('type')!r}. A {role} message's content type must be "
                f"one of {allowed}.",
                f"{param}.type",
            )
        text, transcript = raw.get("text"), raw.get("transcript")
        if part_type.endswith("text") and not isinstance(text, str):
            raise RequestError(f"{param}.text must be a string, got {text!r}", f"{param}.text")
        if transcript is not None and not isinstance(transcript, str):
            raise RequestError(f"{param}.transcript must be a string, got {transcript!r}",
                               f"{param}.transcript")
        item.parts.append(ContentPart(type=part_type, text=text if part_type.endswith("text")
                                      else None, transcript=transcript))
    return item


class ConversationItems:
    """The ordered items of the embedded server's default conversation (the server side of
    what a client calls its conversation)."""

    def __init__(self) -> None:
        self._items: list[Item] = []

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    def get(self, item_id: str) -> Item | None:
        """The item with ``item_id``, or ``None``."""
        return next((item for item in self._items if item.id == item_id), None)

    def last_id(self) -> str | None:
        """The id of the last item (the ``previous_item_id`` of an appended one)."""
        return self._items[-1].id if self._items else None

    def previous_id(self, item_id: str) -> str | None:
        """The id of the item just before ``item_id`` (``None`` for the first or a missing one)."""
        ids = [item.id for item in self._items]
        index = ids.index(item_id) if item_id in ids else 0
        return ids[index - 1] if index > 0 else None

    def insert(self, item: Item, after: str | None = None) -> str | None:
        """Add ``item`` at the end, or after item ``after`` (``"root"``: first).

        Returns the id of the item now before it.

        Raises:
            KeyError: ``after`` names no item.
        """
        if after is None:
            previous = self.last_id()
            self._items.append(item)
            return previous
        if after == "root":
            self._items.insert(0, item)
            return None
        for index, existing in enumerate(self._items):
            if existing.id == after:
                self._items.insert(index + 1, item)
                return after
        raise KeyError(after)

    def delete(self, item_id: str) -> bool:
        """Remove the item; return whether it existed."""
        item = self.get(item_id)
        if item is None:
            return False
        self._items.remove(item)
        return True

    def function_call(self, call_id: str) -> Item | None:
        """The ``function_call`` item with ``call_id``, or ``None``."""
        return next((item for item in self._items if item.type == "function_call"
                     and item.fields.get("call_id") == call_id), None)

    def latest_request(self) -> tuple[str, bool]:
        """The text of the latest user message (``""`` if none), and whether a function call
        came after it (the request was answered with a call)."""
        called = False
        for item in reversed(self._items):
            if item.type == "function_call":
                called = True
            elif item.type == "message" and item.role == "user":
                return item.text(), called
        return "", called

    def outputs_to_speak(self) -> list[tuple[str, str]]:
        """The function outputs since the last message, as ``(tool name, output)`` in order:
        what a response speaks about before anything else."""
        outputs: list[tuple[str, str]] = []
        for item in reversed(self._items):
            if item.type == "message":
                break
            if item.type == "function_call_output":
                call = self.function_call(item.fields["call_id"])
                name = call.fields.get("name", "function") if call else "function"
                outputs.append((name, item.fields["output"]))
        return outputs[::-1]

    def turns(self) -> list[ConversationTurn]:
        """The message items as text turns, for a :class:`~.responder.Responder`."""
        return [
            ConversationTurn(role=item.role, text=item.text())  # type: ignore[arg-type]
            for item in self._items
            if item.type == "message" and item.role in _ROLES
        ]
