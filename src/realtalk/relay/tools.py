"""The relay's own function tools: declared upstream, run on the backend, hidden from clients.

A relay given tools (``RelayServer(..., tools=[...])``) owns their calls. Per upstream session
it keeps a :class:`~realtalk.tools.calls.ToolCalls` ledger, the one a Conversation runs, with
its rules (every call answered once, the follow-up, interruptions, timeouts);
:class:`RelayTools` is the relay's side of it, without I/O:

- *Declaring*: the relay's tools go upstream next to the client's own: merged into a client's
  ``session.update`` or ``response.create`` that sets ``tools``, and declared by the relay in a
  ``session.update`` of its own on each new upstream session (after a reconnect, the client's
  last ``session.update`` is replayed with them).
- *Feeding the ledger*: the upstream events about the relay's calls and the responses'
  lifecycle; as user speech, the client's ``response.cancel`` and
  ``conversation.item.truncate`` (a barge-in) and upstream
  ``input_audio_buffer.speech_started``; as a user turn, a client's user message.
- *Hiding*: unless ``show_calls``, clients never see the relay's calls. The events about them
  (their function_call items added and done, their arguments' deltas and done, the
  function_call_output items the relay creates, upstream errors the relay's own events
  caused) are dropped, ``response.done`` lists the response's other output only, and the
  relay's tools are left out of ``session.created`` / ``session.updated``. Dropping, not
  redacting: a client shown a call to a tool it does not know would answer it ("no such
  tool") or wait for an answer; with the calls dropped, every response still reaches the
  client whole from ``response.created`` to ``response.done``, the follow-up is simply a
  response the client did not ask for, as server VAD starts them.
- *Guarding*: a client may not declare a tool with a relay tool's name
  (``tool_name_reserved``), nor answer a relay call or name one of its items
  (``tool_call_not_owned``).

A response that calls both the relay's tools and the client's is followed up by whoever
answers last: when the relay's calls are answered while the client's are not, the relay
leaves the follow-up to the client (which asks for it once it has answered its own).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from ..errors import EventParseError
from ..session_config import SessionConfig, WireShape
from ..tools import Tool
from ..tools.calls import (
    DEFAULT_MAX_TOOL_STEPS,
    CancelTool,
    RunTool,
    ToolCallCancelled,
    ToolCallFinished,
    ToolCalls,
    ToolCallStarted,
)
from ..wire import (
    ConversationItemCreate,
    ResponseCreate,
    SessionUpdate,
    encode,
    load_json,
    parse_server_event,
)
from .frames import TOOL_CALL_NOT_OWNED, TOOL_NAME_RESERVED, ClientFrame, Refusal
from .metrics import RelayMetrics

__all__ = ("RelayTools", "ToolEffect")

logger = logging.getLogger("realtalk.relay.tools")

ToolEffect: TypeAlias = RunTool | CancelTool | str
"""What :meth:`RelayTools.outputs` hands the session: a run to start or stop, or a frame to send
upstream."""

# Upstream events the ledger reads (the others only matter for hiding).
_LEDGER_TYPES = frozenset({
    "response.created", "response.output_item.added", "response.output_item.done",
    "response.function_call_arguments.done", "response.done", "input_audio_buffer.committed",
})
_OUTPUT_ITEM_TYPES = frozenset({"response.output_item.added", "response.output_item.done"})
_CONVERSATION_ITEM_TYPES = frozenset({
    "conversation.item.added", "conversation.item.done", "conversation.item.created",
    "conversation.item.retrieved",
})
_ARGUMENTS_TYPES = frozenset({"response.function_call_arguments.delta",
                              "response.function_call_arguments.done"})
_SESSION_TYPES = frozenset({"session.created", "session.updated"})
# Client events naming an item they act on: a relay call's item is not the client's to touch.
_ITEM_ACTIONS = frozenset({"conversation.item.retrieve", "conversation.item.delete",
                           "conversation.item.truncate"})


class RelayTools:
    """One relay session's side of its tools (see the module docstring).

    Args:
        tools: the tools the relay runs.
        shape: the upstream's protocol shape (``"ga"`` or ``"beta"``).
        show_calls: whether clients see the calls (their items, arguments and outputs).
        max_tool_steps: follow-ups in a chain of calls between user turns.
        metrics: where the calls are counted (``tool_calls``).
        session_id: the relay session, for the log.

    Raises:
        ConfigurationError: what :class:`~realtalk.tools.calls.ToolCalls` refuses (two tools
            with one name, a bad ``max_tool_steps``).
    """

    def __init__(self, tools: Sequence[Tool], *, shape: WireShape = "ga",
                 show_calls: bool = False, max_tool_steps: int = DEFAULT_MAX_TOOL_STEPS,
                 metrics: RelayMetrics | None = None, session_id: str = "") -> None:
        self._tools = list(tools)
        self._max_tool_steps = max_tool_steps
        self.ledger = ToolCalls(self._tools, max_tool_steps)
        self.names = frozenset(self.ledger.tools)
        self._shape = shape
        self._show = show_calls
        self._metrics = metrics if metrics is not None else RelayMetrics()
        self._session_id = session_id
        self._client_tools: list[Any] = []
        self._calls: set[str] = set()  # call ids of the relay's calls
        self._items: set[str] = set()  # their function_call and function_call_output items
        # The client's calls not yet answered, by response; the responses with relay calls.
        self._client_calls: dict[str, str] = {}
        self._answered: set[str] = set()
        self._relay_responses: set[str] = set()
        self._sent_ids: set[str] = set()  # event ids of the relay's own upstream events
        self._next_id = 0

    # -----------------------------------------------------------------------------------------
    # Client frames
    # -----------------------------------------------------------------------------------------

    def check_client(self, frame: ClientFrame) -> Refusal | None:
        """``None`` if the client frame leaves the relay's tools and calls alone, else why
        not."""
        payload, event_type = frame.payload, frame.type
        if event_type == "session.update":
            return self._reserved(payload.get("session"), "session", event_type)
        if event_type == "response.create":
            return self._reserved(payload.get("response"), "response", event_type)
        if event_type == "conversation.item.create":
            item = payload.get("item")
            if isinstance(item, Mapping) and item.get("type") == "function_call_output":
                call_id = item.get("call_id")
                if isinstance(call_id, str) and call_id in self._calls:
                    return Refusal(TOOL_CALL_NOT_OWNED,
                                   f"{event_type}: call {call_id!r} is answered by the relay, "
                                   "which runs its tool.", param="item.call_id")
        if event_type in _ITEM_ACTIONS:
            item_id = payload.get("item_id")
            if isinstance(item_id, str) and item_id in self._items:
                return Refusal(TOOL_CALL_NOT_OWNED,
                               f"{event_type}: item {item_id!r} is a call of the relay's own "
                               "tools.", param="item_id")
        return None

    def _reserved(self, section: object, name: str, event_type: str) -> Refusal | None:
        tools = section.get("tools") if isinstance(section, Mapping) else None
        if not isinstance(tools, list):
            return None
        for index, declared in enumerate(tools):
            tool_name = declared.get("name") if isinstance(declared, Mapping) else None
            if isinstance(tool_name, str) and tool_name in self.names:
                return Refusal(TOOL_NAME_RESERVED,
                               f"{event_type}: {name}.tools[{index}] is named {tool_name!r}, "
                               "a tool the relay runs itself; choose another name.",
                               param=f"{name}.tools[{index}].name")
        return None

    def forwarding(self, frame: ClientFrame) -> str:
        """What goes upstream for an accepted client frame: as it is, or, when it sets
        ``tools``, re-encoded with the relay's tools added."""
        section_name = {"session.update": "session", "response.create": "response"}.get(
            frame.type)
        section = frame.payload.get(section_name) if section_name else None
        if section_name is None or not isinstance(section, Mapping) \
                or not isinstance(section.get("tools"), list):
            return frame.text
        client_tools = list(section["tools"])
        if frame.type == "session.update":
            self._client_tools = client_tools
        merged = {**frame.payload,
                  section_name: {**section, "tools": client_tools + self.ledger.definitions()}}
        return _compact(merged)

    def client_event(self, event_type: str, payload: Mapping[str, Any], now: float) -> None:
        """A client frame was forwarded: the user's turns and speech, and the client's answers
        to its own calls."""
        if event_type in ("response.cancel", "conversation.item.truncate"):
            self.ledger.user_spoke(now)  # a barge-in
        elif event_type == "conversation.item.create":
            item = payload.get("item")
            if not isinstance(item, Mapping):
                return
            if item.get("type") == "message" and item.get("role") == "user":
                self.ledger.user_turn()
            elif item.get("type") == "function_call_output":
                self._answered_by_client(item.get("call_id"))

    # -----------------------------------------------------------------------------------------
    # Upstream frames
    # -----------------------------------------------------------------------------------------

    def upstream_event(self, payload: dict[str, Any], now: float) -> dict[str, Any] | None:
        """Feed a decoded upstream event to the ledger; what the client gets of it: ``payload``
        itself, a copy with the relay's calls left out, or ``None`` (nothing)."""
        event_type = payload.get("type")
        self._learn(event_type, payload)
        if event_type == "input_audio_buffer.speech_started":
            self.ledger.user_spoke(now)
        elif event_type in _LEDGER_TYPES:
            self._feed(event_type, payload, now)
        if self._show:
            return payload
        return self._shown(event_type, payload)

    def _learn(self, event_type: object, payload: Mapping[str, Any]) -> None:
        """Note which calls and items are the relay's, and which calls the client owes."""
        if event_type in _OUTPUT_ITEM_TYPES or event_type in _CONVERSATION_ITEM_TYPES:
            self._learn_item(payload.get("item"), payload.get("response_id"),
                             event_type == "response.output_item.done")
        elif event_type == "response.done":
            response = payload.get("response")
            if isinstance(response, Mapping) and isinstance(response.get("output"), list):
                for item in response["output"]:
                    self._learn_item(item, response.get("id"), True)

    def _learn_item(self, item: object, response_id: object, complete: bool) -> None:
        if not isinstance(item, Mapping):
            return
        kind, call_id, item_id = item.get("type"), item.get("call_id"), item.get("id")
        if not isinstance(call_id, str):
            return
        if kind == "function_call":
            if item.get("name") in self.names or call_id in self._calls:
                self._calls.add(call_id)
                if isinstance(item_id, str):
                    self._items.add(item_id)
                if isinstance(response_id, str):
                    self._relay_responses.add(response_id)
            elif complete and item.get("status", "completed") == "completed" \
                    and call_id not in self._answered and isinstance(response_id, str):
                self._client_calls[call_id] = response_id
        elif kind == "function_call_output":
            if call_id in self._calls and isinstance(item_id, str):
                self._items.add(item_id)
            else:
                self._answered_by_client(call_id)

    def _answered_by_client(self, call_id: object) -> None:
        if isinstance(call_id, str):
            self._answered.add(call_id)
            self._client_calls.pop(call_id, None)

    def _feed(self, event_type: object, payload: dict[str, Any], now: float) -> None:
        """The ledger reads only the relay's calls: another call would be answered by it as
        a call of a tool it does not have."""
        if event_type in _OUTPUT_ITEM_TYPES:
            if not self._relay_item(payload.get("item")):
                return
        elif event_type == "response.function_call_arguments.done":
            if payload.get("call_id") not in self._calls:
                return
        elif event_type == "response.done":
            payload = self._without_calls(payload, relay=False)
        try:
            event = parse_server_event(payload)
        except EventParseError as exc:
            logger.warning("session %s: an upstream %s the tool calls cannot read: %s",
                           self._session_id, event_type, exc)
            return
        self.ledger.server_event(event, now)

    def _shown(self, event_type: object, payload: dict[str, Any]) -> dict[str, Any] | None:
        if event_type in _OUTPUT_ITEM_TYPES or event_type in _CONVERSATION_ITEM_TYPES:
            return None if self._relay_item(payload.get("item")) else payload
        if event_type in _ARGUMENTS_TYPES:
            mine = payload.get("call_id") in self._calls or payload.get("item_id") in self._items
            return None if mine else payload
        if event_type == "response.done":
            return self._without_calls(payload, relay=True)
        if event_type == "conversation.item.deleted":
            return None if payload.get("item_id") in self._items else payload
        if event_type in _SESSION_TYPES:
            return self._without_tools(payload)
        if event_type == "error":
            error = payload.get("error")
            caused_by = error.get("event_id") if isinstance(error, Mapping) else None
            if caused_by in self._sent_ids:
                logger.warning("session %s: the upstream refused the relay's %s: %s",
                               self._session_id, caused_by,
                               error.get("message") if isinstance(error, Mapping) else error)
                return None
        return payload

    def _relay_item(self, item: object) -> bool:
        return isinstance(item, Mapping) and (
            item.get("id") in self._items or item.get("call_id") in self._calls)

    def _without_calls(self, payload: dict[str, Any], *, relay: bool) -> dict[str, Any]:
        """``response.done`` without the relay's calls (``relay``) or without the others."""
        response = payload.get("response")
        output = response.get("output") if isinstance(response, Mapping) else None
        if not isinstance(response, Mapping) or not isinstance(output, list):
            return payload
        kept = [item for item in output if self._relay_item(item) is not relay]
        if len(kept) == len(output):
            return payload
        return {**payload, "response": {**response, "output": kept}}

    def _without_tools(self, payload: dict[str, Any]) -> dict[str, Any]:
        session = payload.get("session")
        tools = session.get("tools") if isinstance(session, Mapping) else None
        if not isinstance(session, Mapping) or not isinstance(tools, list):
            return payload
        kept = [t for t in tools if not (isinstance(t, Mapping) and t.get("name") in self.names)]
        if len(kept) == len(tools):
            return payload
        return {**payload, "session": {**session, "tools": kept}}

    # -----------------------------------------------------------------------------------------
    # Time, results, what to do
    # -----------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has a call to time out, if any."""
        return self.ledger.next_deadline()

    def tick(self, now: float) -> None:
        """Time out the calls that ran too long."""
        self.ledger.tick(now)

    def finished(self, call_id: str, now: float, result: object, error: str | None) -> None:
        """A run ended by itself with ``result`` or ``error``."""
        self.ledger.finished(call_id, now, result=result, error=error)

    def outputs(self) -> list[ToolEffect]:
        """Drain the ledger: the runs to start or stop and the frames to send upstream, in
        order; its events are counted and logged here."""
        effects: list[ToolEffect] = []
        for out in self.ledger.outputs():
            if isinstance(out, RunTool | CancelTool):
                effects.append(out)
            elif isinstance(out, ResponseCreate):
                if self._relay_responses.intersection(self._client_calls.values()):
                    logger.info("session %s: the relay's calls are answered; the client, which "
                                "has calls of its own to answer, asks for the reply",
                                self._session_id)
                    continue
                effects.append(self._encode(out))
            elif isinstance(out, ConversationItemCreate):
                effects.append(self._encode(out))
            else:
                self._count(out)
        return effects

    def _count(self, event: ToolCallStarted | ToolCallFinished | ToolCallCancelled) -> None:
        counts, call = self._metrics.tool_calls, event.call
        if isinstance(event, ToolCallStarted):
            counts["started"] += 1
            logger.info("session %s: tool %s started (call %s)", self._session_id, call.name,
                        call.call_id)
        elif isinstance(event, ToolCallFinished):
            counts["errors" if event.error is not None else "finished"] += 1
            logger.info("session %s: tool %s %s (call %s)", self._session_id, call.name,
                        f"answered with an error: {event.error}" if event.error else "finished",
                        call.call_id)
        else:
            counts["cancelled"] += 1
            logger.info("session %s: tool %s cancelled (call %s): %s", self._session_id,
                        call.name, call.call_id, event.reason)

    def _encode(self, event: ConversationItemCreate | ResponseCreate | SessionUpdate) -> str:
        # The relay's own ids, so that an upstream error about one of its events is known
        # (a client's realtalk ledger names its own events rt_tool_N too).
        self._next_id += 1
        event_id = f"relay_tool_{self._next_id}"
        self._sent_ids.add(event_id)
        return encode(attrs.evolve(event, event_id=event_id), self._shape)

    # -----------------------------------------------------------------------------------------
    # Upstream sessions
    # -----------------------------------------------------------------------------------------

    def declaration(self, replayed: str | None) -> str:
        """The ``session.update`` for a new upstream session: the client's last one
        (``replayed``, as it was forwarded) with the tools set, or the relay's own."""
        if replayed is not None:
            payload = _decoded(replayed)
            session = payload.get("session") if payload is not None else None
            if payload is not None and isinstance(session, Mapping):
                tools = self._client_tools + self.ledger.definitions()
                return _compact({**payload, "session": {**session, "tools": tools}})
        config = SessionConfig(extra={"tools": self._client_tools + self.ledger.definitions()})
        return self._encode(SessionUpdate(session=config, shape=self._shape))

    def upstream_lost(self) -> list[str]:
        """The upstream session ended: its calls went with it. A new ledger starts; the
        calls that were running (to stop, unreported) are counted as cancelled."""
        running = [call.call_id for call in self.ledger.running]
        if running:
            self._metrics.tool_calls["cancelled"] += len(running)
        self.ledger = ToolCalls(self._tools, self._max_tool_steps)
        self._calls.clear()
        self._items.clear()
        self._client_calls.clear()
        self._answered.clear()
        self._relay_responses.clear()
        self._sent_ids.clear()
        return running


def _compact(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _decoded(text: str) -> dict[str, Any] | None:
    try:
        payload = load_json(text, max_depth=None)
    except EventParseError:
        return None
    return payload if isinstance(payload, dict) else None
