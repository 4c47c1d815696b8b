"""Which client events the relay forwards: the policy hook and its default.

A :class:`Policy` sees each client frame (after the size and rate limits, before the
ownership check) and returns ``None`` to let it pass or a :class:`~.frames.Refusal`, which the
client receives as an ``error`` event. The frame is never altered: it passes whole or not at
all.

:class:`EventPolicy`, the default, encodes what an app's backend usually wants from a browser
or phone it does not control: the client may talk and listen, but the app owns the prompt.
Clients may not set ``instructions``, ``tool_choice``, ``prompt`` or ``model``, in
``session.update`` nor as per-response overrides in ``response.create``; they may declare
function tools of their own (``tools``, which they answer themselves) only when
:attr:`EventPolicy.client_tools` is on (a tool is part of the prompt: off by default), and
they may not add
``system`` messages (another way to rewrite the instructions), except the notes realtalk's own
client adds after a barge-in (:data:`REALTALK_NOTES`: "you were interrupted", "that was only
noise, carry on"). Any other event type outside the realtime protocol's client events is
refused.

Compose your own by wrapping it::

    class NoTextInput:
        def __init__(self) -> None:
            self.base = EventPolicy()

        def check(self, frame: ClientFrame) -> Refusal | None:
            if frame.type == "conversation.item.create":
                return Refusal("event_not_allowed", "this app accepts voice only")
            return self.base.check(frame)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs

from ..server.session import SUPPORTED_CLIENT_EVENTS
from ..session.core import INTERRUPTION_NOTE, RESUME_NOTE
from .frames import EVENT_NOT_ALLOWED, FIELD_NOT_ALLOWED, ClientFrame, Refusal

__all__ = ("ClientFrame", "Policy", "EventPolicy", "CLIENT_EVENT_TYPES", "APP_OWNED_FIELDS",
           "REALTALK_NOTES")

#: Every client event type of the realtime protocol (GA; the beta names are the same): what
#: the embedded server understands, and WebRTC/SIP's ``output_audio_buffer.clear``.
CLIENT_EVENT_TYPES: frozenset[str] = frozenset(
    {*SUPPORTED_CLIENT_EVENTS, "output_audio_buffer.clear"})

#: The system notes realtalk's Conversation adds after a barge-in (allowed by default).
REALTALK_NOTES: frozenset[str] = frozenset({INTERRUPTION_NOTE, RESUME_NOTE})

#: Session and response fields the app, not the client, decides by default.
APP_OWNED_FIELDS: frozenset[str] = frozenset(
    {"instructions", "tool_choice", "prompt", "model"}
)


class Policy(Protocol):
    """Decides whether a client frame may go upstream."""

    def check(self, frame: ClientFrame) -> Refusal | None:
        """``None`` to forward ``frame``, or why not (sent to the client as an error event).

        Called on the relay's event loop for every frame, audio included (``frame.payload`` is
        always the decoded frame): keep it quick and never block.
        """
        ...


@attrs.frozen(kw_only=True)
class EventPolicy:
    """The default policy (see the module docstring).

    Attributes:
        allowed_types: the client event types forwarded.
        app_owned_fields: fields of ``session.update``'s ``session`` and ``response.create``'s
            ``response`` that clients may not set.
        allow_system_messages: whether clients may add any ``role: "system"`` message.
        allowed_system_texts: the system messages clients may add anyway (each text part
            must be one of these): realtalk's barge-in notes by default; add your own if your
            clients set ``interruption_note``.
        client_tools: whether clients may declare function tools of their own (``tools`` in
            ``session.update`` and ``response.create``; off by default: a tool's description
            steers the model as the instructions do); the relay's own tools are declared
            next to them either way, and their names stay the relay's.
    """

    allowed_types: frozenset[str] = CLIENT_EVENT_TYPES
    app_owned_fields: frozenset[str] = APP_OWNED_FIELDS
    allow_system_messages: bool = False
    allowed_system_texts: frozenset[str] = REALTALK_NOTES
    client_tools: bool = False

    def check(self, frame: ClientFrame) -> Refusal | None:
        """Refuse types outside :attr:`allowed_types`, app-owned fields, system messages, and
        tools unless :attr:`client_tools`."""
        if frame.type not in self.allowed_types:
            return Refusal(EVENT_NOT_ALLOWED,
                           f"Client events of type {frame.type!r} are not allowed by this relay.",
                           param="type")
        payload = frame.payload
        if frame.type == "session.update":
            return self._owned_field(payload.get("session"), "session", frame.type)
        if frame.type == "response.create":
            response = payload.get("response")
            refusal = self._owned_field(response, "response", frame.type)
            if refusal is None and isinstance(response, Mapping):
                refusal = self._system_items(response.get("input"), "response.input")
            return refusal
        if frame.type == "conversation.item.create":
            return self._system_items([payload.get("item")], "item")
        return None

    def _owned_field(self, section: object, name: str, event_type: str) -> Refusal | None:
        if not isinstance(section, Mapping):
            return None
        for key in sorted(self.app_owned_fields.intersection(section)):
            return Refusal(FIELD_NOT_ALLOWED,
                           f"{event_type} may not set {name}.{key}: the application sets it.",
                           param=f"{name}.{key}")
        if not self.client_tools and "tools" in section:
            return Refusal(FIELD_NOT_ALLOWED,
                           f"{event_type} may not set {name}.tools: this relay does not let "
                           "clients declare tools.", param=f"{name}.tools")
        return None

    def _system_items(self, items: object, where: str) -> Refusal | None:
        if self.allow_system_messages or not isinstance(items, list):
            return None
        for item in items:
            if (isinstance(item, Mapping) and item.get("role") == "system"
                    and not self._allowed_note(item.get("content"))):
                return Refusal(FIELD_NOT_ALLOWED,
                               f"{where} may not add a system message: the application sets "
                               "the instructions.", param=f"{where}.role")
        return None

    def _allowed_note(self, content: object) -> bool:
        if not isinstance(content, list) or not content:
            return False
        return all(isinstance(part, Mapping) and part.get("type") == "input_text"
                   and isinstance(text := part.get("text"), str)
                   and text in self.allowed_system_texts for part in content)
