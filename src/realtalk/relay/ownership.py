"""What belongs to one client's session, and the check that a client acts only on it.

Realtime events rarely name a session, but several name things that live in one: a response
(``response.cancel``'s ``response_id``), an item (``item_id`` of ``conversation.item.truncate``,
``.delete`` and ``.retrieve``; ``previous_item_id`` of ``conversation.item.create``; item
references in ``response.create``'s ``input``), or the session itself (``session.id`` of
``session.update``, a top-level ``session_id``). A client owns exactly:

- its relay session id (from its token) and the id of the upstream session the relay opened
  for it (from ``session.created``);
- every response and item id the relay has seen on that upstream connection (it sees all of
  them, before the client can), and item ids the client itself gave in
  ``conversation.item.create``.

A client frame naming anything else is refused (``session_not_owned``): the client cannot
learn or guess its way into another session's responses or items. The top-level
``session_id``, ``response_id``, ``item_id`` and ``previous_item_id`` are checked on every
frame, audio appends included, whatever its type. A process-wide
:class:`IdRegistry` remembers which live session each id belongs to, so the log can say when
a refused id is another session's rather than merely unknown.

:class:`SessionOwnership` also counts the assistant audio forwarded to the client per item,
so a ``conversation.item.truncate`` can be compared with what the client can have heard.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .frames import SESSION_NOT_OWNED, Refusal

__all__ = ("IdRegistry", "SessionOwnership", "OwnershipViolation")

_G711_FORMATS = frozenset({"audio/pcmu", "audio/pcma", "g711_ulaw", "g711_alaw"})
_PCM16_BYTES_PER_MS = 48  # 24 kHz, 2 bytes a sample
_G711_BYTES_PER_MS = 8  # 8 kHz, 1 byte a sample
_MAX_SHOWN = 128
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = _MAX_SHOWN


class IdRegistry:
    """Which live relay session each upstream id belongs to (one per relay process)."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._owners)

    def claim(self, ident: str, session_id: str) -> None:
        """Record that ``ident`` belongs to ``session_id`` (the first claim wins)."""
        self._owners.setdefault(ident, session_id)

    def release(self, idents: Iterable[str], session_id: str) -> None:
        """Forget the ids ``session_id`` held (it closed, or deleted an item)."""
        for ident in idents:
            if self._owners.get(ident) == session_id:
                del self._owners[ident]

    def owner_of(self, ident: str) -> str | None:
        """The live session holding ``ident``, if any."""
        return self._owners.get(ident)


@attrs.frozen
class OwnershipViolation:
    """A client frame named something that is not its own.

    Attributes:
        refusal: what the client is told.
        field: the field naming it (``response_id``, ``item_id``, ...).
        value: the id named (a short repr instead if it is not a string or is very long).
        owner: the other live session that holds the id, or ``None`` if no session does.
    """

    refusal: Refusal
    field: str
    value: str
    owner: str | None


class SessionOwnership:
    """The ids one client session owns (see the module docstring).

    Args:
        session_id: the relay session id from the client's credentials.
        registry: the process-wide registry, shared by all sessions of a relay.
    """

    def __init__(self, session_id: str, registry: IdRegistry | None = None) -> None:
        self.session_id = session_id
        self._registry = registry if registry is not None else IdRegistry()
        self._ids: set[str] = set()
        self._upstream_sessions: set[str] = set()
        self._audio_bytes: dict[str, int] = {}
        self._bytes_per_ms = _PCM16_BYTES_PER_MS
        self._registry.claim(session_id, session_id)

    @property
    def upstream_session_ids(self) -> frozenset[str]:
        """The ids of the upstream sessions opened for this client (more after reconnects)."""
        return frozenset(self._upstream_sessions)

    def owns(self, ident: str) -> bool:
        """Whether ``ident`` is one of this session's response or item ids."""
        return ident in self._ids

    # -----------------------------------------------------------------------------------------
    # Learning ids
    # -----------------------------------------------------------------------------------------

    def _own(self, ident: object) -> None:
        if isinstance(ident, str) and ident and ident not in self._ids:
            self._ids.add(ident)
            self._registry.claim(ident, self.session_id)

    def observe_server(self, payload: Mapping[str, Any]) -> None:
        """Learn the ids (and audio format) a decoded upstream event carries."""
        event_type = payload.get("type")
        if event_type == "conversation.item.deleted":
            ident = payload.get("item_id")
            if isinstance(ident, str) and ident in self._ids:
                self._ids.discard(ident)
                self._registry.release((ident,), self.session_id)
                self._audio_bytes.pop(ident, None)
            return
        self._own(payload.get("item_id"))
        self._own(payload.get("response_id"))
        for key in ("item", "response"):
            section = payload.get(key)
            if isinstance(section, Mapping):
                self._own(section.get("id"))
                output = section.get("output")
                if isinstance(output, list):
                    for item in output:
                        if isinstance(item, Mapping):
                            self._own(item.get("id"))
        session = payload.get("session")
        if isinstance(session, Mapping) and event_type in ("session.created", "session.updated"):
            ident = session.get("id")
            if isinstance(ident, str) and ident and ident not in self._upstream_sessions:
                self._upstream_sessions.add(ident)
                self._registry.claim(ident, self.session_id)
            self._learn_format(session)

    def _learn_format(self, session: Mapping[str, Any]) -> None:
        fmt: object = session.get("output_audio_format")  # beta
        audio = session.get("audio")
        if isinstance(audio, Mapping):  # GA: audio.output.format.type
            output = audio.get("output")
            if isinstance(output, Mapping) and isinstance(output.get("format"), Mapping):
                fmt = output["format"].get("type")
        if isinstance(fmt, str):
            g711 = fmt in _G711_FORMATS
            self._bytes_per_ms = _G711_BYTES_PER_MS if g711 else _PCM16_BYTES_PER_MS

    def observe_client(self, payload: Mapping[str, Any]) -> None:
        """Learn an item id the client chose itself, once its frame is forwarded."""
        if payload.get("type") == "conversation.item.create":
            item = payload.get("item")
            if isinstance(item, Mapping):
                self._own(item.get("id"))

    def add_audio(self, item_id: str, n_bytes: int) -> None:
        """Count ``n_bytes`` of ``item_id``'s audio as forwarded to the client."""
        self._audio_bytes[item_id] = self._audio_bytes.get(item_id, 0) + n_bytes

    def audio_ms(self, item_id: str) -> float:
        """Milliseconds of ``item_id``'s audio forwarded to the client so far."""
        return self._audio_bytes.get(item_id, 0) / self._bytes_per_ms

    def forget_upstream(self) -> None:
        """The upstream connection was replaced: its responses and items are gone with it."""
        self._registry.release(self._ids, self.session_id)
        self._ids.clear()
        self._audio_bytes.clear()

    def close(self) -> None:
        """The session ended: release its ids from the registry."""
        self.forget_upstream()
        self._registry.release((*self._upstream_sessions, self.session_id), self.session_id)
        self._upstream_sessions.clear()

    # -----------------------------------------------------------------------------------------
    # Checking client frames
    # -----------------------------------------------------------------------------------------

    def check(self, event_type: str, payload: Mapping[str, Any]) -> OwnershipViolation | None:
        """``None`` if every id the client frame names is this session's, else the first one
        that is not.

        The top-level id fields are checked on every event, whatever its type: an event that
        does not use a field upstream gains nothing from naming another session's id in it.
        """
        violation = (
            self._check_session(event_type, payload.get("session_id"), "session_id")
            or self._check_id(event_type, payload.get("response_id"), "response_id")
            or self._check_id(event_type, payload.get("item_id"), "item_id")
        )
        if violation is not None:
            return violation
        previous = payload.get("previous_item_id")
        if previous != "root":  # "root": insert at the start, names no item
            violation = self._check_id(event_type, previous, "previous_item_id")
            if violation is not None:
                return violation
        if event_type == "session.update":
            session = payload.get("session")
            if isinstance(session, Mapping):
                return self._check_session(event_type, session.get("id"), "session.id")
        elif event_type == "response.create":
            return self._check_references(event_type, payload.get("response"))
        return None

    def _check_references(self, event_type: str, response: object) -> OwnershipViolation | None:
        if not isinstance(response, Mapping) or not isinstance(response.get("input"), list):
            return None
        for index, item in enumerate(response["input"]):
            if isinstance(item, Mapping) and item.get("type") == "item_reference":
                violation = self._check_id(event_type, item.get("id"),
                                           f"response.input[{index}].id")
                if violation is not None:
                    return violation
        return None

    def _check_id(self, event_type: str, ident: object, field: str) -> OwnershipViolation | None:
        if ident is None or (isinstance(ident, str) and ident in self._ids):
            return None
        return self._violation(event_type, ident, field, "does not belong to this session")

    def _check_session(self, event_type: str, ident: object,
                       field: str) -> OwnershipViolation | None:
        if ident is None or (isinstance(ident, str) and (
                ident == self.session_id or ident in self._upstream_sessions)):
            return None
        return self._violation(event_type, ident, field, "is not this client's session")

    def _violation(self, event_type: str, ident: object, field: str,
                   why: str) -> OwnershipViolation:
        # What the client sent is shown cut short: it goes into an error event and a log line.
        value = ident if isinstance(ident, str) and len(ident) <= _MAX_SHOWN else _SHOWN.repr(ident)
        owner = self._registry.owner_of(ident) if isinstance(ident, str) else None
        refusal = Refusal(SESSION_NOT_OWNED, f"{event_type}: {field} {value!r} {why}.",
                          param=field)
        return OwnershipViolation(refusal=refusal, field=field, value=value, owner=owner)
