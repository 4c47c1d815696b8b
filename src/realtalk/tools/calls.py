"""The tool calls of one conversation, sans-I/O: what to run, when to answer, when to follow up.

:class:`ToolCalls` reads the server's events and the conversation's own (user speech, the
app's text) with the caller's ``now`` and hands back what to do: :class:`RunTool` and
:class:`CancelTool` for the shell, the ``function_call_output`` and ``response.create`` events to
send, and :class:`ToolCallStarted` / :class:`ToolCallFinished` / :class:`ToolCallCancelled` for
the app. It keeps these rules, whatever order the events come in:

1. Every call the model emitted gets exactly one ``function_call_output``: its result, its
   error (unknown tool, bad arguments, the function raised, it timed out), or why it did not
   run or was stopped. A realtime model holds each call open until it is answered, and a
   request after an unanswered call fails.
2. A call runs at most once, as soon as its arguments are complete; the events that repeat it
   (``response.output_item.done``, ``response.done``) change nothing.
3. On confirmed user speech, running calls whose tool says ``on_interrupt="cancel"`` are
   stopped and answered at once ("the user interrupted"); the others run on, and their output
   is delivered even when their response was cancelled.
4. A call whose arguments never completed (its response was cancelled first) is answered as
   not run.
5. The spoken follow-up (``response.create``) is asked for once per response with calls: when
   all its calls are answered, the response is done, no response is in progress, the local
   detector does not hear speech that may be starting, and the user has not spoken since it
   started. If the user spoke, their turn's reply comes instead and the
   outputs are already in the conversation: the follow-up never starts over the user.
6. ``max_tool_steps`` bounds a chain of calls between user turns: the follow-up that ends the
   chain's last step forbids more calls (``tool_choice: "none"``), and no follow-up is asked
   for after that.
7. A call running longer than its tool's ``timeout_s`` is stopped and answered with an error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs

from ..errors import ConfigurationError
from ..wire import (
    ConversationItemCreate,
    InputAudioBufferCommitted,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ServerEvent,
)
from .arguments import ToolArgumentsError
from .tool import Tool

__all__ = ("DEFAULT_MAX_TOOL_STEPS", "CancelTool", "RunTool", "ToolCall", "ToolCallCancelled",
           "ToolCallEvent", "ToolCallFinished", "ToolCallStarted", "ToolCalls", "ToolOutput",
           "error_output", "result_output")

logger = logging.getLogger("realtalk.tools")

#: Follow-ups in a chain of calls before the model must answer in words.
DEFAULT_MAX_TOOL_STEPS = 3

_OUTPUT_LIMIT = 16_000  # characters of a result given to the model; the rest is cut


@attrs.frozen(kw_only=True)
class ToolCall:
    """One function call the model made.

    Attributes:
        call_id: the model's id for the call (its output names it).
        name: the tool called.
        arguments: the JSON arguments as the model wrote them (partial for a call that never
            completed).
        response_id: the response that made the call.
        item_id: the call's conversation item.
    """

    call_id: str
    name: str
    arguments: str
    response_id: str
    item_id: str


@attrs.frozen(kw_only=True)
class ToolCallStarted:
    """A tool started running for ``call``."""

    call: ToolCall
    at: float


@attrs.frozen(kw_only=True)
class ToolCallFinished:
    """``call`` was answered with ``output`` (what the model received). ``error`` says what
    went wrong (unknown tool, bad arguments, the function raised or timed out), ``None`` for
    a result; ``duration_s`` is how long the function ran (``None`` if it never ran)."""

    call: ToolCall
    output: str
    error: str | None
    duration_s: float | None
    at: float


@attrs.frozen(kw_only=True)
class ToolCallCancelled:
    """``call`` was stopped, or never run, because of ``reason``; the model was told so
    (``output``)."""

    call: ToolCall
    reason: str
    output: str
    at: float


ToolCallEvent: TypeAlias = ToolCallStarted | ToolCallFinished | ToolCallCancelled
"""What the app hears about tool calls."""


@attrs.frozen
class RunTool:
    """An effect: run ``tool`` with ``arguments`` (already checked and converted) for ``call``,
    then report with :meth:`ToolCalls.finished`."""

    call: ToolCall
    tool: Tool
    arguments: Mapping[str, Any]


@attrs.frozen
class CancelTool:
    """An effect: stop the run of call ``call_id`` (its answer has been given already)."""

    call_id: str


ToolOutput: TypeAlias = RunTool | CancelTool | ToolCallEvent | ConversationItemCreate | \
    ResponseCreate
"""What :meth:`ToolCalls.outputs` hands back, in order."""


def result_output(value: object) -> str:
    """The text a tool's return value is given to the model as: a string as it is, anything
    else as JSON (objects JSON cannot hold as their ``str``); cut to a bounded length."""
    text = value if isinstance(value, str) else json.dumps(value, default=str,
                                                           ensure_ascii=False)
    if len(text) > _OUTPUT_LIMIT:
        text = text[:_OUTPUT_LIMIT] + " [cut]"
    return text


def error_output(message: str) -> str:
    """The text an error is given to the model as: ``{"error": message}``."""
    return json.dumps({"error": message}, ensure_ascii=False)


_Status = Literal["arguments", "running", "answered"]

#: Settled responses (calls answered, follow-up decided) the ledger remembers, with their
#: calls; older ones are forgotten.
KEPT_SETTLED = 16


@attrs.define
class _Call:
    call: ToolCall
    status: _Status = "arguments"
    tool: Tool | None = None
    started_at: float | None = None


@attrs.define
class _Response:
    calls: list[str] = attrs.field(factory=list)
    done: bool = False
    user_spoke: bool = False
    followed_up: bool = False


def _timeout_at(entry: _Call) -> float | None:
    """When a running call times out (``None``: not running, or no time limit)."""
    tool = entry.tool
    if entry.status != "running" or tool is None or tool.timeout_s is None \
            or entry.started_at is None:
        return None
    return entry.started_at + tool.timeout_s


class ToolCalls:
    """The ledger of one conversation's tool calls (see the module's rules).

    Args:
        tools: the tools the model may call (their names must differ).
        max_tool_steps: follow-ups in a chain of calls between user turns.

    Raises:
        ConfigurationError: two tools share a name, or ``max_tool_steps`` is below 1.
    """

    def __init__(self, tools: Sequence[Tool],
                 max_tool_steps: int = DEFAULT_MAX_TOOL_STEPS) -> None:
        self.tools: dict[str, Tool] = {}
        for t in tools:
            if not isinstance(t, Tool):
                raise ConfigurationError(
                    f"expected realtalk.Tool objects in tools (make one with @realtalk.tool), "
                    f"got {type(t).__name__}", argument="tools")
            if t.name in self.tools:
                raise ConfigurationError(f"two tools are named {t.name!r}; names must differ",
                                         argument="tools")
            self.tools[t.name] = t
        if isinstance(max_tool_steps, bool) or not isinstance(max_tool_steps, int) \
                or max_tool_steps < 1:
            raise ConfigurationError(
                f"max_tool_steps must be an integer >= 1, got {max_tool_steps!r}",
                argument="max_tool_steps")
        self.max_tool_steps = max_tool_steps
        self._calls: dict[str, _Call] = {}
        self._responses: dict[str, _Response] = {}
        self._in_progress: set[str] = set()
        self._steps = 0
        self._held = False
        self._outputs: list[ToolOutput] = []
        self._next_id = 0

    # -- what the engine reads -----------------------------------------------------------------

    def outputs(self) -> list[ToolOutput]:
        """Drain what to do, in order."""
        out, self._outputs = self._outputs, []
        return out

    def definitions(self) -> list[dict[str, Any]]:
        """The ``session.tools`` entries declaring the tools."""
        return [t.definition() for t in self.tools.values()]

    @property
    def running(self) -> list[ToolCall]:
        """The calls whose tools are running."""
        return [c.call for c in self._calls.values() if c.status == "running"]

    @property
    def unanswered(self) -> list[ToolCall]:
        """The calls the model made that have no output yet."""
        return [c.call for c in self._calls.values() if c.status != "answered"]

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has a call to time out, if any."""
        deadlines = [_timeout_at(entry) for entry in self._calls.values()]
        return min((d for d in deadlines if d is not None), default=None)

    # -- inputs --------------------------------------------------------------------------------

    def server_event(self, event: ServerEvent, now: float) -> None:
        """One server event (after the session core saw it)."""
        match event:
            case ResponseCreated():
                self._in_progress.add(event.response.id)
            case ResponseOutputItemAdded(item=item) if item.get("type") == "function_call":
                self._known(item, event.response_id)
            case ResponseFunctionCallArgumentsDone():
                item = {"type": "function_call", "id": event.item_id, "call_id": event.call_id,
                        "name": event.name, "arguments": event.arguments}
                self._start(self._known(item, event.response_id), event.arguments, now)
            case ResponseOutputItemDone(item=item) if item.get("type") == "function_call":
                if item.get("status", "completed") == "completed":
                    entry = self._known(item, event.response_id)
                    self._start(entry, str(item.get("arguments", "")), now)
            case ResponseDone():
                self._response_done(event, now)
            case InputAudioBufferCommitted():
                self.user_turn()

    def user_spoke(self, now: float) -> None:
        """Confirmed user speech (a barge-in, or the user starting a turn): calls whose tool
        says ``on_interrupt="cancel"`` stop, and no follow-up starts over the user."""
        self.user_turn()
        for entry in list(self._calls.values()):
            if entry.status == "running" and entry.tool is not None \
                    and entry.tool.on_interrupt == "cancel":
                self._outputs.append(CancelTool(entry.call.call_id))
                self._cancel(entry, "the user interrupted", now)

    def hold(self, held: bool) -> None:
        """Whether the user may be starting to talk (speech not yet confirmed): a follow-up
        due meanwhile waits, and goes when the hold is released without a confirmation."""
        was, self._held = self._held, held
        if was and not held:
            self._follow_up()

    def user_turn(self) -> None:
        """The user took a turn (spoke, or the app sent their text): pending follow-ups give
        way to the reply to it, and a new chain of calls may begin."""
        self._steps = 0
        for response in self._responses.values():
            if not response.followed_up:
                response.user_spoke = True

    def connection_lost(self, now: float) -> None:
        """The session is gone, and the responses in progress with it. Their calls whose
        arguments were not complete are answered as not run; no follow-up is asked for them
        (a reply the loss cut off is not asked for again: the app decides). Running calls go
        on, and their output goes to the next session if the call is restored there."""
        for response_id in self._in_progress:
            response = self._responses.get(response_id)
            if response is None:
                continue
            response.done = response.followed_up = True
            for entry in self._entries(response.calls):
                if entry.status == "arguments":
                    self._cancel(entry, "the connection was lost before the call was "
                                 "complete", now)
        self._in_progress.clear()

    def finished(self, call_id: str, now: float, *, result: object = None,
                 error: str | None = None) -> None:
        """The run of ``call_id`` ended with ``result``, or with ``error`` (the function raised:
        its type and message). A call already answered (stopped, timed out) is left as it
        was: its late result is dropped."""
        entry = self._calls.get(call_id)
        if entry is None or entry.status != "running":
            logger.info("tool call %s ended after it was answered; its result is dropped",
                        call_id)
            return
        output = error_output(f"{entry.call.name} failed: {error}") if error is not None \
            else result_output(result)
        self._finish(entry, output, error, now)
        self._follow_up()

    def tick(self, now: float) -> None:
        """Time out the calls that ran past their tool's ``timeout_s``."""
        for entry in list(self._calls.values()):
            deadline = _timeout_at(entry)
            if deadline is None or now < deadline:
                continue
            self._outputs.append(CancelTool(entry.call.call_id))
            limit = deadline - (entry.started_at or 0.0)  # the tool's timeout_s
            message = f"{entry.call.name} timed out after {limit:g} s"
            self._finish(entry, error_output(message), message, now)
        self._follow_up()

    # -- the steps -----------------------------------------------------------------------------

    def _known(self, item: Mapping[str, Any], response_id: str) -> _Call:
        """The ledger's entry for a function-call item, made on first sight."""
        call_id = str(item.get("call_id") or item.get("id") or "")
        entry = self._calls.get(call_id)
        if entry is None:
            call = ToolCall(call_id=call_id, name=str(item.get("name") or ""),
                            arguments=str(item.get("arguments") or ""),
                            response_id=response_id, item_id=str(item.get("id") or ""))
            entry = self._calls[call_id] = _Call(call)
            self._responses.setdefault(response_id, _Response()).calls.append(call_id)
        elif entry.status == "arguments":
            # Later events carry what earlier ones lacked (beta's arguments.done has no name;
            # a cancelled response's done has the arguments sent so far).
            entry.call = attrs.evolve(
                entry.call, name=entry.call.name or str(item.get("name") or ""),
                arguments=str(item.get("arguments") or entry.call.arguments))
        return entry

    def _start(self, entry: _Call, arguments: str, now: float) -> None:
        if entry.status != "arguments":
            return  # run once: a repeat of the call changes nothing
        entry.call = attrs.evolve(entry.call, arguments=arguments)
        tool = self.tools.get(entry.call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            self._reject(entry, f"there is no tool named {entry.call.name!r} (the tools: "
                         f"{known})", now)
            return
        try:
            parsed = tool.parse(arguments)
        except ToolArgumentsError as exc:
            self._reject(entry, str(exc), now)
            return
        entry.status, entry.tool, entry.started_at = "running", tool, now
        self._outputs.append(RunTool(entry.call, tool, parsed))
        self._outputs.append(ToolCallStarted(call=entry.call, at=now))

    def _reject(self, entry: _Call, message: str, now: float) -> None:
        self._finish(entry, error_output(message), message, now)

    def _finish(self, entry: _Call, output: str, error: str | None, now: float) -> None:
        """Answer ``entry`` with ``output`` and tell the app how it ended (``duration_s`` is
        ``None`` for a call that never ran)."""
        self._answer(entry, output, now)
        duration = now - entry.started_at if entry.started_at is not None else None
        self._outputs.append(ToolCallFinished(call=entry.call, output=output, error=error,
                                              duration_s=duration, at=now))

    def _cancel(self, entry: _Call, reason: str, now: float) -> None:
        output = error_output(f"{entry.call.name} was not completed: {reason}")
        self._answer(entry, output, now)
        self._outputs.append(ToolCallCancelled(call=entry.call, reason=reason, output=output,
                                               at=now))

    def _answer(self, entry: _Call, output: str, now: float) -> None:
        entry.status = "answered"
        self._next_id += 1
        self._outputs.append(ConversationItemCreate(
            item={"type": "function_call_output", "call_id": entry.call.call_id,
                  "output": output},
            event_id=f"rt_tool_{self._next_id}"))

    def _response_done(self, event: ResponseDone, now: float) -> None:
        info = event.response
        self._in_progress.discard(info.id)
        for item in info.output:
            if item.get("type") == "function_call":
                entry = self._known(item, info.id)
                if item.get("status", "completed") == "completed":
                    self._start(entry, str(item.get("arguments", "")), now)
        response = self._responses.get(info.id)
        if response is not None:
            response.done = True
            for entry in self._entries(response.calls):
                if entry.status == "arguments":
                    self._cancel(entry, f"its response ended ({info.status}) before the call "
                                 "was complete", now)
        self._follow_up()

    def _entries(self, call_ids: Iterable[str]) -> list[_Call]:
        return [self._calls[c] for c in call_ids]

    def _forget_settled(self) -> None:
        """Forget all but the last :data:`KEPT_SETTLED` responses whose calls are answered
        and whose follow-up was decided, and their calls: no event names them again (their
        ``response.done`` came), so a long conversation's ledger stays bounded. A late result
        of a forgotten call is dropped, as that of any answered call."""
        settled = [rid for rid, r in self._responses.items() if r.done and r.followed_up
                   and all(self._calls[c].status == "answered" for c in r.calls)]
        for rid in settled[:max(0, len(settled) - KEPT_SETTLED)]:
            for call_id in self._responses.pop(rid).calls:
                del self._calls[call_id]

    def _follow_up(self) -> None:
        """Ask for the spoken follow-up of every response whose calls are all answered."""
        self._forget_settled()
        ready = [r for r in self._responses.values() if r.done and not r.followed_up
                 and all(e.status == "answered" for e in self._entries(r.calls))]
        if not ready:
            return
        if any(not r.user_spoke for r in ready) and (self._in_progress or self._held):
            return  # after the response in progress, or the hold (each comes back here)
        for response in ready:
            response.followed_up = True
        if all(r.user_spoke for r in ready):
            logger.info("tool follow-up skipped: the user spoke; their turn's reply has the "
                        "outputs")
            return
        if self._steps >= self.max_tool_steps:
            logger.warning("tool calls chained %d times: no more follow-ups until the user "
                           "speaks", self._steps)
            return
        self._steps += 1
        overrides = {"tool_choice": "none"} if self._steps >= self.max_tool_steps else None
        self._next_id += 1
        self._outputs.append(ResponseCreate(response=overrides,
                                            event_id=f"rt_tool_{self._next_id}"))
