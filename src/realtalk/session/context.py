"""The conversation's context, sans-I/O: what the model should remember, as the user heard it.

A realtime session keeps its conversation on the server, and a lost connection loses it. The
engine keeps its own copy, :class:`ConversationContext`, fed with every server event it
receives and every client event it sends, and recreates it on a fresh session with
:meth:`ConversationContext.restore_events`. It holds, in conversation order:

- **user turns**: the transcript of a spoken turn (a turn never transcribed has no text to
  restore and is left out), or the text the app sent;
- **assistant turns, as heard**: the full transcript of a reply that played out; for a reply
  cut short (a barge-in's ``conversation.item.truncate``, or playback stopped by a lost
  connection), only what was heard. The words heard are the transcript deltas that had
  arrived when the heard position's audio had (each delta is stamped with the item's audio
  received when it came); a reply whose transcript came in one piece is cut in proportion
  of the audio heard, at a word boundary. A reply of which nothing was heard is left out;
- **system messages** the conversation added (the note after an interruption, the resume
  note), placed after the item they follow;
- **function calls** whose arguments were complete, and their outputs. A call cut off before
  its arguments were complete is left out, and so is its output.

The context is bounded: at most ``max_items`` items (:data:`DEFAULT_MAX_ITEMS`); past that the
oldest go first, and a function call goes together with its output (the pair is one unit: an
output without its call is refused by the service).

Audio is never kept or restored: the hosted services do not accept assistant audio items back
(``output_audio`` needs ``text``), and user audio is a weight a long conversation cannot carry.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias

import attrs

from ..session_config import PCM_SAMPLE_RATE, WireShape
from ..wire import (
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemTruncate,
    InputAudioBufferCommitted,
    InputAudioTranscriptionCompleted,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDone,
    ServerEvent,
)
from .playback import ItemKey

__all__ = ("DEFAULT_MAX_ITEMS", "RESTORE_EVENT_PREFIX", "ContextItem", "ConversationContext",
           "ItemKind")

#: Items kept for a restore. A spoken turn is a sentence or three: 200 items are an hour's
#: talk, well inside a realtime model's context window, and a restore of 200 small events
#: takes a fraction of a second.
DEFAULT_MAX_ITEMS = 200

#: The ``event_id`` prefix of the events :meth:`ConversationContext.restore_events` makes; the
#: context does not take them for new items when they are sent.
RESTORE_EVENT_PREFIX = "rt_restore_"

ItemKind: TypeAlias = Literal["user", "assistant", "system", "function_call",
                              "function_call_output"]

# What a heard reply's text is cut to when its transcript came in one piece: bytes of
# PCM16 per millisecond at the protocol's rate.
_BYTES_PER_MS = PCM_SAMPLE_RATE * 2 / 1000.0


@attrs.frozen(kw_only=True)
class ContextItem:
    """One item of the context, as it will be restored.

    Attributes:
        kind: ``"user"``, ``"assistant"``, ``"system"`` (messages), ``"function_call"`` or
            ``"function_call_output"``.
        text: a message's text, a call's JSON arguments, or an output.
        item_id: its id on the session it came from (``None`` for a restored item, or a
            client item the server has not named).
        call_id, name: a function call's (``call_id`` also on its output).
    """

    kind: ItemKind
    text: str
    item_id: str | None = None
    call_id: str | None = None
    name: str | None = None


@attrs.define
class _Entry:
    kind: ItemKind
    item_id: str | None
    text: str | None = None  # None: not known yet (an untranscribed turn, a call's arguments)
    call_id: str | None = None
    name: str | None = None
    response_id: str | None = None
    content_index: int = 0
    audio_bytes: int = 0  # assistant audio received
    deltas: list[tuple[float, str]] = attrs.field(factory=list)  # (audio ms at arrival, text)
    heard_ms: float | None = None  # cut: only this much was heard
    restored: bool = False

    def item(self) -> ContextItem | None:
        text = self.heard_text() if self.kind == "assistant" else self.text
        if not text:
            return None
        return ContextItem(kind=self.kind, text=text, item_id=None if self.restored
                           else self.item_id, call_id=self.call_id, name=self.name)

    def heard_text(self) -> str | None:
        if self.heard_ms is None:
            return self.text if self.text is not None else "".join(d for _, d in self.deltas)
        heard = self.heard_ms
        if self.deltas:
            return "".join(d for at, d in self.deltas if at < heard).strip()
        if self.text is None or self.audio_bytes == 0:
            return None
        # The transcript came whole: keep the share of it that was heard, at a word boundary.
        share = min(1.0, heard * _BYTES_PER_MS / self.audio_bytes)
        words = self.text.split()
        return " ".join(words[:math.floor(len(words) * share)])

    @property
    def audio_ms(self) -> float:
        return self.audio_bytes / _BYTES_PER_MS


class ConversationContext:
    """The ledger of one conversation's items, across its sessions (see the module's rules).

    Feed it :meth:`server_event` and :meth:`sent` in the order they happen; at a lost
    connection, :meth:`connection_lost` with what was heard; on the new session,
    :meth:`restore_events`, then :meth:`restored`.

    Args:
        max_items: the bound (oldest first; a call with its output).

    Raises:
        ValueError: ``max_items`` below 2 (a call and its output must fit).
    """

    def __init__(self, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 2:
            raise ValueError(f"max_items must be an integer >= 2 (a function call and its "
                             f"output are kept together), got {max_items!r}")
        self.max_items = max_items
        self._entries: list[_Entry] = []
        self._in_progress: collections.OrderedDict[str, None] = collections.OrderedDict()
        # The calls the current session knows: their outputs may be sent on it.
        self._session_calls: set[str] = set()
        self._restores = 0

    # -- what the engine reads -----------------------------------------------------------------

    def items(self) -> list[ContextItem]:
        """The items a restore would recreate, in order (those with no text left out)."""
        return [item for entry in self._entries if (item := entry.item()) is not None]

    def __len__(self) -> int:
        return len(self._entries)

    def knows_call(self, call_id: str) -> bool:
        """Whether the current session has the function call ``call_id`` (its output may be
        sent on it): a call made on it (complete or not), or restored to it, and still in the
        context (a call that fell out of the bound is forgotten)."""
        return call_id in self._session_calls

    @property
    def responses_in_progress(self) -> list[str]:
        """The responses created and not done yet, oldest first."""
        return list(self._in_progress)

    def heard_text(self, item_id: str) -> str:
        """The text of assistant item ``item_id`` as heard so far (``""`` if unknown)."""
        entry = self._find(item_id)
        return (entry.heard_text() or "") if entry is not None else ""

    def response_of(self, item_id: str) -> str | None:
        """The response that made assistant item ``item_id`` (``None`` if unknown)."""
        entry = self._find(item_id)
        return entry.response_id if entry is not None else None

    def assistant_parts(self, response_id: str | None = None) -> list[ItemKey]:
        """The assistant audio parts of the current session (of ``response_id`` only, when
        given), in order."""
        return [(e.item_id, e.content_index) for e in self._entries
                if e.kind == "assistant" and e.item_id is not None and not e.restored
                and (response_id is None or e.response_id == response_id)]

    # -- inputs --------------------------------------------------------------------------------

    def server_event(self, event: ServerEvent) -> None:
        """One server event of the current session."""
        match event:
            case InputAudioBufferCommitted(item_id=item_id, previous_item_id=previous):
                self._add(_Entry("user", item_id), after=previous)
            case InputAudioTranscriptionCompleted(item_id=item_id, transcript=transcript):
                entry = self._find(item_id)
                if entry is not None:
                    entry.text = transcript.strip()
            case ResponseCreated(response=info):
                self._in_progress[info.id] = None
            case ResponseOutputItemAdded(response_id=rid, item=item):
                self._output_item(rid, item)
            case ResponseOutputAudioDelta(item_id=item_id, delta=delta):
                entry = self._assistant(event.response_id, item_id, event.content_index)
                entry.audio_bytes += len(delta)
            case ResponseOutputAudioTranscriptDelta(item_id=item_id, delta=delta):
                entry = self._assistant(event.response_id, item_id, event.content_index)
                entry.deltas.append((entry.audio_ms, delta))
            case ResponseOutputAudioTranscriptDone(item_id=item_id, transcript=transcript) | \
                    ResponseOutputTextDone(item_id=item_id, text=transcript):
                entry = self._assistant(event.response_id, item_id, event.content_index)
                entry.text = transcript
            case ResponseFunctionCallArgumentsDone():
                self._call_complete(event.response_id, {
                    "id": event.item_id, "call_id": event.call_id, "name": event.name,
                    "arguments": event.arguments})
            case ResponseOutputItemDone(response_id=rid, item=item):
                if item.get("type") == "function_call" \
                        and item.get("status", "completed") == "completed":
                    self._call_complete(rid, item)
            case ResponseDone(response=info):
                self._in_progress.pop(info.id, None)
                for item in info.output:
                    if item.get("type") == "function_call" \
                            and item.get("status", "completed") == "completed":
                        self._call_complete(info.id, item)

    def sent(self, event: ClientEvent) -> None:
        """A client event was written to the current session."""
        match event:
            case ConversationItemCreate(item=item, previous_item_id=previous):
                if (event.event_id or "").startswith(RESTORE_EVENT_PREFIX):
                    return
                self._client_item(item, previous)
            case ConversationItemTruncate(item_id=item_id, audio_end_ms=end):
                self.cut(item_id, float(end))
            case ConversationItemDelete(item_id=item_id):
                entry = self._find(item_id)
                if entry is not None:
                    self._entries.remove(entry)

    def audio_received(self, item_id: str, n_bytes: int) -> None:
        """``n_bytes`` of PCM16 audio of assistant item ``item_id`` arrived (what an audio
        delta carries, for a caller that forwards deltas without decoding them)."""
        entry = self._find(item_id)
        if entry is not None and entry.kind == "assistant":
            entry.audio_bytes += n_bytes

    def cut(self, item_id: str, heard_ms: float) -> None:
        """Assistant item ``item_id`` was heard only up to ``heard_ms``."""
        entry = self._find(item_id)
        if entry is not None and entry.kind == "assistant":
            entry.heard_ms = heard_ms if entry.heard_ms is None else min(entry.heard_ms,
                                                                         heard_ms)

    def connection_lost(self, heard: Callable[[ItemKey], tuple[float, float]]) -> None:
        """The session is gone, and playback stopped. ``heard(key)`` is the ``(heard_ms,
        received_ms)`` of an audio part from the playback tracker (``(0, 0)`` for a part it
        does not know). A reply still in progress, or not played to its end, is cut at what
        was heard; calls never completed are dropped (their output will not be sent)."""
        in_progress = set(self._in_progress)
        for entry in list(self._entries):
            if entry.restored or entry.item_id is None:
                continue
            if entry.kind == "assistant" and entry.heard_ms is None:
                heard_ms, received_ms = heard((entry.item_id, entry.content_index))
                if entry.response_id in in_progress or heard_ms < received_ms:
                    self.cut(entry.item_id, heard_ms)
            elif entry.kind == "function_call" and entry.text is None:
                self._entries.remove(entry)
        self._in_progress.clear()
        self._session_calls.clear()

    def restore_events(self, shape: WireShape = "ga") -> list[ConversationItemCreate]:
        """The ``conversation.item.create`` events that recreate the context on a fresh
        session, in order (each appended after the one before). Assistant text is
        ``output_text`` (``text`` in the beta ``shape``)."""
        events = []
        for item in self.items():
            self._restores += 1
            events.append(ConversationItemCreate(
                item=_render(item, shape), event_id=f"{RESTORE_EVENT_PREFIX}{self._restores}"))
        return events

    def restored(self) -> None:
        """The restore events were sent: the new session has these items (under new ids, and
        without audio) and their calls."""
        kept = []
        for entry in self._entries:
            if entry.item() is None:
                continue  # nothing of it was restored: forget it
            entry.restored = True
            if entry.kind == "function_call" and entry.call_id is not None:
                self._session_calls.add(entry.call_id)
            kept.append(entry)
        self._entries = kept

    # -- the steps -----------------------------------------------------------------------------

    def _find(self, item_id: str | None) -> _Entry | None:
        if item_id is None:
            return None
        return next((e for e in reversed(self._entries)
                     if e.item_id == item_id and not e.restored), None)

    def _add(self, entry: _Entry, after: str | None = None) -> _Entry:
        previous = self._find(after)
        if previous is not None:
            self._entries.insert(self._entries.index(previous) + 1, entry)
        else:
            self._entries.append(entry)
        self._bound()
        return entry

    def _bound(self) -> None:
        while len(self._entries) > self.max_items:
            oldest = self._entries.pop(0)
            if oldest.call_id is not None:
                # A call and its output go together, and the session's record of the call
                # (which would otherwise grow with every call of a long session).
                self._entries = [e for e in self._entries if e.call_id != oldest.call_id]
                self._session_calls.discard(oldest.call_id)

    def _assistant(self, response_id: str, item_id: str, content_index: int) -> _Entry:
        entry = self._find(item_id)
        if entry is None:
            entry = self._add(_Entry("assistant", item_id, response_id=response_id,
                                     content_index=content_index))
        return entry

    def _output_item(self, response_id: str, item: Mapping[str, Any]) -> None:
        item_id = str(item.get("id") or "")
        if not item_id or self._find(item_id) is not None:
            return
        if item.get("type") == "function_call":
            entry = self._add(_Entry("function_call", item_id, call_id=_str(item.get("call_id")),
                                     name=_str(item.get("name")), response_id=response_id))
            if entry.call_id is not None:
                self._session_calls.add(entry.call_id)
        elif item.get("type") == "message" and item.get("role") == "assistant":
            self._assistant(response_id, item_id, 0)

    def _call_complete(self, response_id: str, item: Mapping[str, Any]) -> None:
        item_id = str(item.get("id") or "")
        entry = self._find(item_id) if item_id else None
        if entry is None:
            entry = self._add(_Entry("function_call", item_id or None,
                                     response_id=response_id))
        entry.call_id = entry.call_id or _str(item.get("call_id"))
        entry.name = entry.name or _str(item.get("name"))
        entry.text = str(item.get("arguments") or "")
        if entry.call_id is not None:
            self._session_calls.add(entry.call_id)

    def _client_item(self, item: Mapping[str, Any], previous: str | None) -> None:
        kind = item.get("type")
        if kind == "function_call_output":
            self._add(_Entry("function_call_output", _str(item.get("id")),
                             text=str(item.get("output") or ""),
                             call_id=_str(item.get("call_id"))))
        elif kind == "function_call":
            entry = _Entry("function_call", _str(item.get("id")),
                           text=str(item.get("arguments") or ""),
                           call_id=_str(item.get("call_id")), name=_str(item.get("name")))
            self._add(entry, after=previous)
            if entry.call_id is not None:
                self._session_calls.add(entry.call_id)
        elif kind == "message" and item.get("role") in ("user", "assistant", "system"):
            role: ItemKind = item["role"]
            self._add(_Entry(role, _str(item.get("id")), text=_message_text(item)),
                      after=previous)


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _message_text(item: Mapping[str, Any]) -> str:
    """The text parts of a message item, joined (audio parts give their transcript)."""
    parts = item.get("content") or ()
    texts = (part.get("text") or part.get("transcript") or "" for part in parts
             if isinstance(part, Mapping))
    return " ".join(t for t in texts if t)


def _render(item: ContextItem, shape: WireShape) -> dict[str, Any]:
    """The ``conversation.item.create`` item for ``item``."""
    if item.kind == "function_call":
        return {"type": "function_call", "call_id": item.call_id, "name": item.name,
                "arguments": item.text}
    if item.kind == "function_call_output":
        return {"type": "function_call_output", "call_id": item.call_id, "output": item.text}
    part = "input_text" if item.kind != "assistant" else (
        "text" if shape == "beta" else "output_text")
    return {"type": "message", "role": item.kind, "content": [{"type": part, "text": item.text}]}
