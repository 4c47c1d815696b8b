"""The offline driver: a whole conversation on a virtual clock, faster than real time.

It is a thin loop over the same :class:`~realtalk.engine.ConversationEngine` a live
:class:`~realtalk.Conversation` runs, fed block by block by a simulated sound card, against
the embedded server's protocol logic (:class:`~realtalk.server.ServerSession`) in-process, with
a virtual network between them (every frame goes through the JSON codec, as on a socket). The
speaker and microphone stand in a :class:`~realtalk.sim.Room`, and a
:class:`~realtalk.sim.ScriptedUser` talks. Nothing reads a real clock: the same inputs give the
same timeline, every run.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import Literal

import attrs

from ..echo import (
    EchoControl,
    EchoDefences,
    EchoOption,
    EchoRiskWatch,
    TranscriptFilterChain,
)
from ..echo.defences import UNSET, defences_from_keywords
from ..engine import AppEvent, CancelTool, ConversationEngine, Emit, RunTool
from ..errors import ConfigurationError
from ..server import PlaceholderTranscriber, ScriptedResponder, ServerOptions, ServerSession
from ..server.responder import Responder, Transcriber
from ..server.voice import WordTiming
from ..session import (
    ClientSession,
    ClientStats,
    Interrupted,
    SendEvent,
    State,
    StateChanged,
)
from ..session.barge_in import BargeIn
from ..session_config import SessionConfig
from ..tools import Tool
from ..tools.calls import DEFAULT_MAX_TOOL_STEPS, ToolCall
from ..tools.running import ToolRunResult, run_tool_now
from ..transcripts import TranscriptStore
from ..vad import OnsetDetector, VoiceActivityDetector
from ..wire import encode
from .clock import VirtualClock
from .device import SimulatedDevice
from .oracle import OracleTranscriber
from .room import EchoPath, Room, RoomConfig
from .user import ScriptedUser, Utterance, start_time

__all__ = ("Simulation", "SimulationResult", "UserSpoke", "PathChange", "EchoPathChanged")

_DEFAULT_BARGE_IN = BargeIn()


@attrs.frozen(kw_only=True)
class UserSpoke:
    """The scripted user started an utterance (a timeline entry)."""

    text: str
    duration_ms: float
    barge_in: bool
    at: float


@attrs.frozen(kw_only=True)
class PathChange:
    """The echo path changes mid-conversation (the laptop is turned, its volume changed, the
    output device switched): sound the speaker emits from then on goes through ``path``,
    while what it emitted before keeps ringing through the old one.

    Exactly one trigger applies, as for an :class:`~realtalk.sim.Utterance`:

    - ``at``: seconds from the start of the simulation;
    - ``after_assistant_starts``: seconds after the assistant starts speaking its
      ``response_number``-th response (1-based).

    Attributes:
        path: the new echo path (``None``: no echo from then on, as with headphones).
    """

    path: EchoPath | None
    at: float | None = None
    after_assistant_starts: float | None = None
    response_number: int = 1

    def __attrs_post_init__(self) -> None:
        if (self.at is None) == (self.after_assistant_starts is None):
            raise ConfigurationError(
                "PathChange needs exactly one of at= or after_assistant_starts=, got "
                f"at={self.at!r}, after_assistant_starts={self.after_assistant_starts!r}")
        if self.response_number < 1:
            raise ConfigurationError(
                f"response_number must be >= 1 (1-based), got {self.response_number!r}")


@attrs.frozen(kw_only=True)
class EchoPathChanged:
    """A scripted :class:`PathChange` took effect (a timeline entry)."""

    path: EchoPath | None
    at: float


TimelineEvent = AppEvent | UserSpoke | EchoPathChanged


@attrs.frozen(kw_only=True)
class SimulationResult:
    """What happened in a simulated conversation.

    Attributes:
        timeline: every conversation event and user utterance, in order, stamped in simulated
            seconds.
        interruptions: the :class:`~realtalk.Interrupted` events.
        simulated_s: simulated time covered.
        wall_s: real time the run took.
        stats: the session core's counters.
    """

    timeline: tuple[TimelineEvent, ...]
    interruptions: tuple[Interrupted, ...]
    simulated_s: float
    wall_s: float
    stats: ClientStats

    @property
    def speed_x(self) -> float:
        """Simulated seconds per wall-clock second."""
        return self.simulated_s / self.wall_s if self.wall_s > 0 else math.inf

    def describe(self) -> list[str]:
        """The timeline as readable lines."""
        return [_describe(entry) for entry in self.timeline]


def _describe(entry: TimelineEvent) -> str:
    at = getattr(entry, "at", None)
    if isinstance(entry, Interrupted):
        at = entry.latency.detected
    stamp = f"{at:8.3f}s" if isinstance(at, float) else " " * 9
    return f"{stamp}  {type(entry).__name__}: " + ", ".join(
        f"{f.name}={getattr(entry, f.name)!r}" for f in attrs.fields(type(entry))
        if f.name != "at")


class Simulation:
    """One simulated conversation. Configure it, then :meth:`run`.

    Args:
        user: what the user says and when (``Utterance`` objects, or a ``ScriptedUser``).
        room: the room (a ``Room`` or a ``RoomConfig``; default: a quiet office).
        config: the session configuration the client sends; input transcription is asked
            for unless it sets ``transcription_model``, as by :class:`~realtalk.Conversation`.
        barge_in: local barge-in settings; ``None`` disables the local detector.
        vad: the local detector's VAD (default :func:`realtalk.vad.default_vad`).
        server_options: the embedded server's behaviour (latency, generation speed, ...).
        responder_factory, transcriber_factory: what the server says and hears;
            ``transcriber_factory="oracle"`` hears as a perfect recogniser would (the user's
            words, or the words of the assistant's echo), see :attr:`oracle`.
        uplink_ms, downlink_ms: one-way network delays.
        block_ms, jitter_buffer_ms, output_latency_ms: the sound card.
        cancel_timeout: the core's cancel timeout.
        seed: seeds the server's ids and voice.
        echo: the echo defences, as in :class:`~realtalk.Conversation` (each ``"default"`` is
            built at the room's rate; the timeline holds their
            :class:`~realtalk.echo.EchoRiskChange`, :class:`~realtalk.echo.EchoTranscriptDropped`
            and :class:`~realtalk.echo.EchoPathMeasurement` events). ``echo_watch`` and
            ``transcript_filters``, and a filter or ``None`` as ``echo``, are deprecated as
            for ``Conversation``.
        transcripts: a :class:`~realtalk.transcripts.TranscriptStore` to record every
            transcript and interruption in, as a conversation does.
        tools, max_tool_steps: function tools, as in :class:`~realtalk.Conversation`. A tool's
            function runs at once and its result arrives ``tool_latency_s`` later in virtual
            time, so barge-ins can be scripted before, during and after a call.
        tool_latency_s: seconds each call takes, or a function of the
            :class:`~realtalk.tools.calls.ToolCall` giving them.
        path_changes: echo path changes scripted mid-conversation (each takes effect at the
            start of the first block at or after its time; an
            :class:`EchoPathChanged` in the timeline marks it).
    """

    def __init__(
        self,
        user: ScriptedUser | Sequence[Utterance],
        *,
        room: Room | RoomConfig | None = None,
        config: SessionConfig | None = None,
        barge_in: BargeIn | None = _DEFAULT_BARGE_IN,
        vad: VoiceActivityDetector | None = None,
        server_options: ServerOptions | None = None,
        responder_factory: Callable[[], Responder] = ScriptedResponder,
        transcriber_factory: Callable[[], Transcriber] | Literal["oracle"] = (
            PlaceholderTranscriber),
        uplink_ms: float = 20.0,
        downlink_ms: float = 20.0,
        block_ms: float = 20.0,
        jitter_buffer_ms: float = 0.0,
        output_latency_ms: float = 0.0,
        cancel_timeout: float = 2.0,
        seed: int = 0,
        echo: EchoDefences | EchoOption = "default",
        transcripts: TranscriptStore | None = None,
        tools: Sequence[Tool] = (),
        max_tool_steps: int = DEFAULT_MAX_TOOL_STEPS,
        tool_latency_s: float | Callable[[ToolCall], float] = 0.0,
        path_changes: Sequence[PathChange] = (),
        # Deprecated: fields of EchoDefences now.
        echo_watch: EchoRiskWatch | Literal["default"] | None = UNSET,
        transcript_filters: TranscriptFilterChain | Literal["default"] | None = UNSET,
    ) -> None:
        self.clock = VirtualClock()
        self.user = user if isinstance(user, ScriptedUser) else ScriptedUser(user)
        self.room = room if isinstance(room, Room) else Room(room)
        self.device = SimulatedDevice(
            self.room, block_ms=block_ms, jitter_buffer_ms=jitter_buffer_ms,
            output_latency_ms=output_latency_ms, clock=self.clock, realtime=False)
        self.engine = ConversationEngine(
            output=self.device.output, sample_rate=self.room.sample_rate, config=config,
            barge_in=barge_in, vad=vad, transcripts=transcripts, cancel_timeout=cancel_timeout,
            echo=defences_from_keywords("Simulation", echo, echo_watch=echo_watch,
                                        transcript_filters=transcript_filters),
            tools=tools, max_tool_steps=max_tool_steps)
        """The conversation engine, as a live conversation runs it."""
        self.oracle: OracleTranscriber | None = None
        """The oracle transcriber, with every transcription it made and its source."""
        transcriber: Transcriber
        if transcriber_factory == "oracle":
            transcriber = self.oracle = OracleTranscriber(self.room.sample_rate,
                                                          self._item_words)
        else:
            transcriber = transcriber_factory()
        self.server = ServerSession(now=0.0, options=server_options,
                                    responder=responder_factory(), transcriber=transcriber,
                                    seed=seed)
        self.uplink = uplink_ms / 1000.0
        self.downlink = downlink_ms / 1000.0
        self._wire: list[tuple[float, int, bool, str]] = []  # (due, seq, to_server, frame)
        self._tool_latency = tool_latency_s
        # (due, seq, call_id, (result, error)): each running call's end, in virtual time.
        self._tool_ends: list[tuple[float, int, str, ToolRunResult]] = []
        self._seq = itertools.count()
        self._path_changes = list(path_changes)
        self._timeline: list[TimelineEvent] = []
        self._started = False

    @property
    def session(self) -> ClientSession:
        """The engine's session core."""
        return self.engine.session

    @property
    def detector(self) -> OnsetDetector | None:
        """The engine's barge-in onset detector (``None`` without local barge-in)."""
        return self.engine.detector

    @property
    def echo_control(self) -> EchoControl:
        """The engine's echo defences."""
        return self.engine.echo_control

    def _item_words(self, item_id: str) -> tuple[WordTiming, ...]:
        item = self.server.conversation.get(item_id)
        return item.words if item is not None else ()

    # -- the virtual network -------------------------------------------------------------------

    def _send(self, to_server: bool, frame: str, now: float) -> None:
        delay = self.uplink if to_server else self.downlink
        heapq.heappush(self._wire, (now + delay, next(self._seq), to_server, frame))

    def _collect_server(self, now: float) -> None:
        for event in self.server.events_to_send():
            self._send(False, encode(event), now)

    def _run_until(self, limit: float) -> None:
        """Deliver frames, end tool calls and release server audio due by ``limit``, in time
        order."""
        while True:
            due_wire = self._wire[0][0] if self._wire else math.inf
            due_tool = self._tool_ends[0][0] if self._tool_ends else math.inf
            due_server = self.server.next_deadline()
            due = min(due_wire, due_tool, math.inf if due_server is None else due_server)
            if due > limit:
                return
            now = self.clock.advance_to(due)
            if due_tool <= due:
                _, _, call_id, (result, error) = heapq.heappop(self._tool_ends)
                self.engine.tool_finished(call_id, now, result=result, error=error)
                self._perform(now)
            elif due_wire <= due:
                _, _, to_server, frame = heapq.heappop(self._wire)
                if to_server:
                    self.server.receive(frame, now)
                else:
                    self.engine.server_frame(frame, now)
                    self._perform(now)
            self.server.advance(now)
            self._collect_server(now)

    # -- the client ----------------------------------------------------------------------------

    def _perform(self, now: float) -> None:
        while effects := self.engine.effects():
            for effect in effects:
                if isinstance(effect, SendEvent):
                    self._send(True, encode(effect.event), now)
                    self.engine.sent(effect, now)
                elif isinstance(effect, RunTool):
                    self._start_tool(effect, now)
                elif isinstance(effect, CancelTool):
                    self._tool_ends = [end for end in self._tool_ends
                                       if end[2] != effect.call_id]
                    heapq.heapify(self._tool_ends)
                elif isinstance(effect, Emit):
                    self._observe(effect)
                # (No rollover effects: a simulation has one session, never reconnected.)

    def _start_tool(self, run: RunTool, now: float) -> None:
        latency = self._tool_latency
        seconds = latency(run.call) if callable(latency) else latency
        heapq.heappush(self._tool_ends, (now + max(0.0, seconds), next(self._seq),
                                         run.call.call_id, run_tool_now(run)))

    def _observe(self, effect: Emit) -> None:
        event = effect.event
        self._timeline.append(event)
        if isinstance(event, StateChanged) and event.new is State.SPEAKING \
                and event.old is State.LISTENING:
            self.user.assistant_started(event.at)

    def _block(self) -> None:
        start = self.clock.now
        self._run_until(start)
        for change in list(self._path_changes):
            when = start_time(change, self.user.assistant_starts)
            if when is not None and when <= start:
                self._path_changes.remove(change)
                self.room.change_path(self.room.mic_position, change.path)
                self._timeline.append(EchoPathChanged(path=change.path, at=start))
        for utterance in self.user.due(start):
            at = self.room.add_user_speech(utterance.samples, at_sample=self.room.mic_position)
            if self.oracle is not None:
                self.oracle.user_spoke(at, at + len(utterance.samples), utterance.text)
            self._timeline.append(UserSpoke(
                text=utterance.text, barge_in=utterance.is_barge_in, at=start,
                duration_ms=len(utterance.samples) * 1000.0 / self.room.sample_rate))
        captured = self.device.step()
        end = start + captured.duration
        self._run_until(end)
        now = self.clock.advance_to(end)
        self.engine.microphone(captured, now)
        if self.oracle is not None and self.engine.uplinked is not None:
            frame, captured_at = self.engine.uplinked
            self.oracle.uplinked(frame.samples, round(captured_at * self.room.sample_rate))
        self._perform(now)
        self.engine.tick(now)
        if self.oracle is not None:
            self.oracle.speaker(self.room.mic_position, *self.engine.playing())
        self._perform(now)

    def request_response(self) -> None:
        """Ask the model to speak now (``response.create`` over the virtual network), as an
        app does to start with a greeting or after a text message."""
        self.engine.request_response()
        self._perform(self.clock.now)

    def run(self, duration_s: float) -> SimulationResult:
        """Simulate ``duration_s`` seconds (continuing where a previous run stopped)."""
        wall = time.perf_counter()
        if not self._started:
            self._started = True
            self.engine.open(self.clock.now)
            self._perform(self.clock.now)
        end = self.clock.now + duration_s
        while self.clock.now + 1e-9 < end:
            self._block()
        return SimulationResult(
            timeline=tuple(self._timeline), interruptions=tuple(self.engine.interruptions),
            simulated_s=self.clock.now, wall_s=time.perf_counter() - wall,
            stats=attrs.evolve(self.engine.session.stats))
