"""``Conversation``: the async context manager, a thin anyio shell over the conversation engine.

Everything the conversation decides is the :class:`~realtalk.engine.ConversationEngine`'s (the
same engine the simulator runs). Three tasks run inside the conversation's task group and feed
it under one lock, so each step and the effects it returns are performed atomically and in
order:

- the *reader* hands it each server frame;
- the *microphone pump* hands it each captured frame (it detects first, then queues the frame
  upstream);
- the *timer* wakes at its next deadline (end of playback, cancel timeout) and when playback
  may have moved.

With :class:`~realtalk.Reconnect` settings, a lost connection starts a fourth task, the
*reconnector*: it waits the engine's backoff, opens a new connection through the same
provider (again after a failed attempt), has the engine restore the conversation on it, and
reads it (the first connection's reader has ended); the next loss starts a new reconnector.
A rollover (:mod:`realtalk.rollover`) starts a *next-session* task: it opens a connection
while the current one carries on, and once the engine switches to it, reads it. Each
connection is owned (opened and closed) by the task that reads it, the first one by the
conversation itself; a connection's end is a loss only if it is still the conversation's
connection (a rollover closes the one it leaves).

Conversation events go to a buffered stream read with :meth:`Conversation.events`. The hot path
never waits on the app: if the app stops reading and the buffer fills, events are dropped and
counted (:attr:`Conversation.dropped_events`), never the audio or the cancel.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Literal

import anyio
import anyio.abc

from ._args import (
    check_choice,
    check_clock,
    check_methods,
    check_number,
    check_sample_rate,
    check_type,
)
from .audio.base import AudioInput, AudioOutput
from .audio.memory import MemoryOutput
from .echo import (
    CalibrationProbe,
    EchoControl,
    EchoDefences,
    EchoFilter,
    EchoOption,
    EchoPathMeasurement,
    EchoRiskLevel,
    EchoRiskWatch,
    NearEndLog,
    TranscriptFilterChain,
)
from .echo.calibration import CalibrationRecording
from .echo.defences import UNSET, defences_from_keywords
from .engine import AppEvent, CancelTool, ConversationEngine, Emit, RunTool
from .errors import (
    ConfigurationError,
    ConnectError,
    ConnectionClosed,
    ConversationClosed,
    RealtalkError,
    unwrap_group,
)
from .providers import Provider
from .reconnect import Reconnect
from .rollover import OpenNextSession, SwitchSession
from .session import ClientSession, Interrupted, State
from .session.barge_in import BargeIn
from .session_config import PCM_SAMPLE_RATE, SessionConfig
from .tools import Tool
from .tools.calls import DEFAULT_MAX_TOOL_STEPS
from .tools.running import ToolRunner
from .transcripts import TranscriptRecorder, TranscriptStore
from .transport import Transport
from .vad import OnsetDetector, VoiceActivityDetector
from .wire import encode

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

__all__ = ("Conversation", "AppEvent")

logger = logging.getLogger("realtalk.conversation")

_DEFAULT_EVENT_BUFFER = 10_000
_DEFAULT_BARGE_IN = BargeIn()


class Conversation:
    """An interruptible, full-duplex voice conversation.

    Args:
        provider: where to connect (:func:`realtalk.providers.local`, ``openai``, ``azure``).
        config: the session configuration (instructions, voice, turn detection, ...). Input
            transcription is asked for with
            :data:`~realtalk.session_config.DEFAULT_TRANSCRIPTION_MODEL` unless it sets
            ``transcription_model`` (a model name, or ``False`` for none): the service
            transcribes the user only when asked, and the :class:`~realtalk.UserTranscript`
            events, the transcript echo filters, the judging of false interruptions and a
            transcript store all read those transcripts.
        input: the microphone; ``None`` sends no audio (text-only input). Frames at any
            rate or channel count are downmixed and resampled to 24 kHz mono at the edge.
        output: the speaker; default a :class:`~realtalk.audio.MemoryOutput` that plays
            against the clock, so playback is tracked even with no device.
        barge_in: local barge-in settings; ``None`` turns the local detector off (server VAD
            is then the only barge-in path).
        vad: the local voice activity detector (default :func:`realtalk.vad.default_vad`: the
            energy and spectral detectors agreeing).
        cancel_timeout: seconds to wait for upstream to confirm a cancel.
        clock: monotonic seconds; default ``anyio.current_time``.
        event_buffer: conversation events buffered for the app before new ones are dropped.
        echo: the echo defences (:class:`~realtalk.echo.EchoDefences`: the canceller, the
            echo-risk watch, the transcript filters, half-duplex, calibration at start), all
            on by default but half-duplex and calibration. The keywords ``half_duplex``,
            ``transcript_filters``, ``echo_watch`` and ``calibrate_at_start``, and an echo
            filter or ``None`` passed as ``echo``, still work for one release, with a
            :class:`DeprecationWarning`: they are fields of ``EchoDefences`` now.
        transcripts: a :class:`~realtalk.transcripts.TranscriptStore` to record every user and
            assistant transcript in (with the filters' verdicts, dropped ones flagged) and
            every interruption, reconnect and rollover; see :attr:`recorder`. A failed write
            is an :class:`~realtalk.ErrorOccurred` event, not the end of the conversation.
        tools: function tools (:func:`realtalk.tool`) the model may call: declared in the
            session, each call run as soon as its arguments are complete (sync functions in
            a worker thread), answered exactly once, and followed by the spoken answer
            (docs/tools.md has the rules, interruptions included).
        max_tool_steps: how many follow-ups a chain of calls may take between user turns
            before the model must answer in words.
        reconnect: what to do when the connection is lost (closed, reset, or silent past
            the provider's keepalive): with :class:`~realtalk.Reconnect` settings
            (``"default"``, the default, is ``Reconnect()``), reopen it through the same
            provider and restore the conversation on it (:class:`~realtalk.Reconnecting`,
            :class:`~realtalk.Reconnected`; docs/reliability.md has the rules), and move to
            a fresh session at a turn boundary before the hosted maximum duration
            (``Reconnect.rollover_after_s``, :class:`~realtalk.RolledOver`); ``None``: the
            conversation ends with a fatal :class:`~realtalk.ErrorOccurred`, and a session
            is never rolled over.

    Raises:
        ConfigurationError: an argument of the wrong type or out of range, named in the
            message.

    An exception raised in the body of ``async with``, or by one of the conversation's tasks
    (an output whose ``write`` fails, say), comes out of the block as itself, not wrapped in
    an exception group; when several are raised together, the first realtalk error comes
    out with the others named in its notes (:func:`realtalk.errors.unwrap_group`).
    """

    def __init__(
        self,
        provider: Provider,
        *,
        config: SessionConfig | None = None,
        input: AudioInput | None = None,
        output: AudioOutput | None = None,
        barge_in: BargeIn | None = _DEFAULT_BARGE_IN,
        vad: VoiceActivityDetector | None = None,
        cancel_timeout: float = 2.0,
        clock: Callable[[], float] | None = None,
        event_buffer: int = _DEFAULT_EVENT_BUFFER,
        echo: EchoDefences | EchoOption = "default",
        transcripts: TranscriptStore | None = None,
        tools: Sequence[Tool] = (),
        max_tool_steps: int = DEFAULT_MAX_TOOL_STEPS,
        reconnect: Reconnect | Literal["default"] | None = "default",
        # Deprecated: fields of EchoDefences now.
        half_duplex: bool = UNSET,
        transcript_filters: TranscriptFilterChain | Literal["default"] | None = UNSET,
        echo_watch: EchoRiskWatch | Literal["default"] | None = UNSET,
        calibrate_at_start: bool = UNSET,
    ) -> None:
        _check_arguments(provider=provider, config=config, input=input, output=output,
                         barge_in=barge_in, vad=vad, cancel_timeout=cancel_timeout, clock=clock,
                         event_buffer=event_buffer, transcripts=transcripts)
        if reconnect == "default":
            reconnect = Reconnect()
        check_type("reconnect", reconnect, (Reconnect, type(None)),
                   "a realtalk.Reconnect, \"default\" or None")
        defences = defences_from_keywords(
            "Conversation", echo, half_duplex=half_duplex, transcript_filters=transcript_filters,
            echo_watch=echo_watch, calibrate_at_start=calibrate_at_start)
        if defences.calibrate_at_start and input is None:
            raise ConfigurationError("calibrate_at_start needs a microphone (input=...)",
                                     argument="input")
        self.provider = provider
        self.input = input
        self.output: AudioOutput = output if output is not None else MemoryOutput(
            PCM_SAMPLE_RATE, clock=clock)
        output_rate = getattr(self.output, "sample_rate", None)
        if output_rate != PCM_SAMPLE_RATE:
            raise ConfigurationError(
                f"expected an output at {PCM_SAMPLE_RATE} Hz (the realtime protocol's PCM16 "
                f"rate) for output, got {type(self.output).__name__} at {output_rate!r} Hz")
        self.barge_in = barge_in
        self.engine = ConversationEngine(
            output=self.output, sample_rate=PCM_SAMPLE_RATE, config=config, barge_in=barge_in,
            vad=vad, echo=defences, transcripts=transcripts, wire_shape=provider.shape,
            cancel_timeout=cancel_timeout, tools=tools, max_tool_steps=max_tool_steps,
            reconnect=reconnect)
        """Everything the conversation decides; this class feeds it and performs its
        effects."""
        self._clock: Callable[[], float] = clock if clock is not None else anyio.current_time
        self._event_buffer = event_buffer
        self._stack: contextlib.AsyncExitStack | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._task_scopes: list[anyio.CancelScope] = []
        self._tools = ToolRunner(self._spawn, self._tool_finished)
        self._transport: Transport | None = None
        # A rollover's connection, from its opening to the switch, and what the switch or an
        # abandoned rollover tells its task.
        self._next_transport: Transport | None = None
        self._next_scope: anyio.CancelScope | None = None
        self._switched: anyio.Event | None = None
        self._closed = False
        self.closed_reason: str | None = None
        """Why the conversation closed (``None`` while it runs)."""
        self.dropped_events = 0
        self._calibration_done: anyio.Event | None = None

    @property
    def session(self) -> ClientSession:
        """The engine's sans-I/O session core."""
        return self.engine.session

    @property
    def echo_control(self) -> EchoControl:
        """The echo defences run on every microphone frame and user transcript."""
        return self.engine.echo_control

    @property
    def recorder(self) -> TranscriptRecorder | None:
        """The recorder writing to the ``transcripts`` store (``None`` without one)."""
        return self.engine.recorder

    @property
    def interruptions(self) -> list[Interrupted]:
        """Every :class:`~realtalk.Interrupted` so far."""
        return self.engine.interruptions

    @property
    def echo_path(self) -> EchoPathMeasurement | None:
        """The last echo-path calibration's figures (``None`` before any)."""
        return self.engine.echo_path

    @property
    def _detector(self) -> OnsetDetector | None:
        return self.engine.detector

    @property
    def echo(self) -> EchoFilter | None:
        """The audio-level echo filter (the canceller chain), ``None`` when off."""
        return self.echo_control.echo

    @property
    def echo_risk(self) -> EchoRiskLevel:
        """The echo-risk watch's current level (``"normal"`` without a watch)."""
        return self.echo_control.level

    @property
    def half_duplex(self) -> bool:
        """Whether the microphone is muted while the assistant speaks, always (settable)."""
        return self.echo_control.half_duplex

    @half_duplex.setter
    def half_duplex(self, value: bool) -> None:
        self.echo_control.half_duplex = value

    @property
    def muted_frames(self) -> int:
        """Microphone frames muted because the assistant spoke in half-duplex."""
        return self.echo_control.muted_frames

    @property
    def near_end(self) -> NearEndLog:
        """Per uplinked frame: did the detector hear the user, was the speaker playing; the
        transcript filters' audio-level opinion on each utterance comes from it."""
        return self.echo_control.near_end

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Conversation:
        if self._stack is not None or self._closed:
            raise ConversationClosed("a Conversation can be entered only once: create a new "
                                     "one for the next conversation")
        # Created here, not in __init__: anyio primitives need the running event loop.
        self._lock = anyio.Lock()
        self._wake = anyio.Event()
        self._send_events, self._recv_events = anyio.create_memory_object_stream[
            AppEvent](self._event_buffer)
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        stack.callback(self._recv_events.close)
        stack.callback(self._send_events.close)
        try:
            self._transport = transport = await stack.enter_async_context(
                self.provider.connect())
            self._tg = await stack.enter_async_context(anyio.create_task_group())
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        try:
            async with self._lock:
                self.engine.open(self._clock())
                await self._perform()
            self._spawn(self._reader, transport)
            self._spawn(self._timer)
            if self.input is not None:
                self._spawn(self._microphone, self.input)
            if self.engine.calibration is not None:  # calibrate_at_start
                await self._calibrated(self.engine.calibration)
        except BaseException:
            # Closed as if the app had left the block, then the error as it was raised
            # (passing it through the task group would wrap it in an exception group).
            await self.__aexit__(None, None, None)
            raise
        return self

    def _spawn(self, task: Callable[..., Awaitable[None]], *args: object) -> None:
        # Each task gets its own cancel scope: the task group itself encloses the body of the
        # app's ``async with``, so cancelling the group would cancel the app's code too.
        scope = anyio.CancelScope()
        self._task_scopes.append(scope)

        async def run() -> None:
            with scope:
                await task(*args)

        assert self._tg is not None
        self._tg.start_soon(run)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        self._shutdown("its async with block ended")
        stack, self._stack = self._stack, None
        if stack is None:
            return None
        # The stack also closes the event streams: events can be read until the ``async with``
        # block ends, not after.
        try:
            return await stack.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            # The task groups wrap whatever crosses them, the app's own error included; the
            # app gets the error itself, as if there were no task group.
            error = unwrap_group(group, own=exc, cancelled=anyio.get_cancelled_exc_class())
            if error is None:
                raise
            context = error.__context__
            try:
                raise error
            finally:
                # Raising here would chain the group in as the context: keep the error's own.
                error.__context__ = context
                del error, group

    def _shutdown(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self.closed_reason = reason
        self.engine.close(self._clock())
        for effect in self.engine.effects():
            if isinstance(effect, Emit):
                self._emit(effect.event)  # no I/O after close: only the events remain
        self._send_events.close()
        for scope in self._task_scopes:
            scope.cancel()

    # -- public API ----------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The session state (idle / listening / speaking / cancelling)."""
        return self.session.state

    @property
    def closed(self) -> bool:
        """Whether the conversation has ended (by your code or because the connection closed)."""
        return self._closed

    def events(self) -> AsyncIterator[AppEvent]:
        """The stream of conversation events; it ends when the conversation closes.

        Events can be read inside the conversation's ``async with`` block, also after the
        conversation closed on its own (connection lost) until the buffered ones are read.

        Raises:
            ConversationClosed: the conversation was not entered yet, or its ``async with``
                block has ended (also when iterating a stream taken before).
        """
        if self._stack is None:
            raise self._not_open("events()")
        return _EventStream(self)

    async def calibrate(self, probe: CalibrationProbe | None = None) -> EchoPathMeasurement:
        """Measure the echo path: play a short, quiet probe, record the microphone, and start
        the echo canceller at the measured delay and the gate at the measured echo gain.

        Call it at the start (before the assistant speaks) or whenever the room may have
        changed. While it runs, the microphone's audio goes neither upstream nor to the
        barge-in detector (the canceller still hears it). The measurement is returned whether
        or not it could be trusted (``ok`` and ``reason``); only a trusted one seeds anything.
        It is also kept as :attr:`echo_path` and delivered to :meth:`events`.

        Raises:
            ConversationClosed: the conversation is not running.
            ConfigurationError: no microphone, or one whose frames do not carry what the
                speaker played (``AudioFrame.reference``), which the measurement needs to
                know when the probe started.
            TimeoutError: the microphone delivered too little audio within 5 s more than the
                probe and its echo need.
        """
        if self._stack is None or self._closed:
            raise self._not_open("calibrate()")
        if self.input is None:
            raise ConfigurationError("calibrate() needs a microphone (input=...)")
        async with self._lock:
            recording = self.engine.calibrate(probe)
        return await self._calibrated(recording)

    async def _calibrated(self, recording: CalibrationRecording) -> EchoPathMeasurement:
        """Wait for the microphone task to finish ``recording`` (the engine measures)."""
        self._calibration_done = done = anyio.Event()
        try:
            # The probe and its echo, plus playback queued before it, plus slack for a
            # microphone that starts late.
            with anyio.fail_after(recording.timeout_s + 5.0):
                if not recording.finished:
                    await done.wait()
        finally:
            self._calibration_done = None
            if not recording.finished:
                self.engine.cancel_calibration()
        if recording.error is not None:
            raise recording.error
        assert recording.result is not None
        return recording.result

    async def send_text(self, text: str, *, respond: bool = True) -> None:
        """Add a user text message, and by default ask for a spoken response.

        Raises:
            ConversationClosed: the conversation is not running.
        """
        check_type("text", text, str, "a string")
        self._check_open("send_text()")
        async with self._lock:
            self.engine.user_text(text, respond=respond)
            await self._perform()

    async def create_response(self) -> None:
        """Ask the model to respond now (manual turns).

        Raises:
            ConversationClosed: the conversation is not running.
        """
        self._check_open("create_response()")
        async with self._lock:
            self.engine.request_response()
            await self._perform()

    async def interrupt(self) -> bool:
        """Interrupt the assistant as a barge-in would. Returns whether it was speaking.

        Raises:
            ConversationClosed: the conversation is not running.
        """
        self._check_open("interrupt()")
        async with self._lock:
            interrupted = self.engine.interrupt(self._clock())
            await self._perform()
        return interrupted

    def _check_open(self, what: str) -> None:
        if self._closed or self._stack is None:
            raise self._not_open(what)

    def _not_open(self, what: str) -> ConversationClosed:
        if not self._closed:
            return ConversationClosed(
                f"{what} needs a running conversation: call it inside "
                "`async with realtalk.Conversation(...) as conv:`")
        return ConversationClosed(
            f"{what}: the conversation is closed ({self.closed_reason}); it cannot be used "
            "again: start a new Conversation")

    # -- tasks ---------------------------------------------------------------------------------

    async def _reader(self, transport: Transport) -> None:
        """Read ``transport`` to its end: a loss if it is still the conversation's
        connection (a rollover closes the one it leaves)."""
        lost = await self._read(transport)
        async with self._lock:
            if transport is self._transport:
                self._lost(lost)
                await self._perform()

    async def _read(self, transport: Transport) -> ConnectionClosed:
        """Hand the engine every frame of ``transport``; return what ended it."""
        while True:
            try:
                text = await transport.receive()
            except ConnectionClosed as exc:
                return exc
            async with self._lock:
                if transport is not self._transport:
                    # A connection a rollover left, until its close: what it still says (its
                    # VAD on the last audio it got, say) is not the new session's.
                    continue
                self.engine.server_frame(text, self._clock())
                await self._perform()

    def _lost(self, exc: ConnectionClosed) -> None:
        """The connection is gone: the engine decides whether to reconnect. Call with the
        lock held. During an outage, the reconnector handles what fails."""
        if self._closed or self.engine.reconnecting:
            return
        if self._next_scope is not None:
            self._next_scope.cancel()  # a rollover under way is abandoned
        delay = self.engine.lost(str(exc), self._clock())
        if delay is None:
            self._shutdown(self.engine.failure or f"connection lost: {exc}")
            return
        self._spawn(self._reconnector, delay)

    async def _reconnector(self, delay: float | None) -> None:
        while delay is not None:
            await anyio.sleep(delay)
            async with contextlib.AsyncExitStack() as connection:
                try:
                    transport = await connection.enter_async_context(self.provider.connect())
                except (ConnectError, ConnectionClosed) as exc:
                    async with self._lock:
                        delay = self.engine.attempt_failed(str(exc), self._clock())
                        await self._perform()
                    continue
                async with self._lock:
                    self._transport = transport
                    self.engine.reconnected(self._clock())
                    await self._perform()
                await self._reader(transport)
                return
        self._shutdown(self.engine.failure or "the connection was lost")

    async def _next_session(self) -> None:
        """Open the connection a rollover moves to; read it once the engine switched."""
        switched = self._switched = anyio.Event()
        # Cancelled by a loss before the switch (the rollover is abandoned); after it, the
        # scope is no longer reachable.
        with anyio.CancelScope() as self._next_scope:
            async with contextlib.AsyncExitStack() as connection:
                try:
                    transport = await connection.enter_async_context(self.provider.connect())
                except (ConnectError, ConnectionClosed) as exc:
                    async with self._lock:
                        self.engine.next_session_failed(str(exc), self._clock())
                        await self._perform()
                    self._wake.set()  # a new deadline (the retry) for the timer
                    return
                async with self._lock:
                    self._next_transport = transport
                    self.engine.next_session_ready(self._clock())
                    await self._perform()
                await switched.wait()
                await self._reader(transport)
        if not switched.is_set():
            self._next_scope = self._next_transport = None

    def _switch(self) -> None:
        """Perform a :class:`SwitchSession`: send on the rollover's connection from now on,
        and close the one left (in a task: its closing handshake is not waited for here)."""
        assert self._next_transport is not None
        assert self._switched is not None
        left, self._transport = self._transport, self._next_transport
        self._next_scope = self._next_transport = None  # the conversation's connection now
        self._switched.set()
        if left is not None:
            self._spawn(left.aclose)

    async def _microphone(self, source: AudioInput) -> None:
        frames = source.frames()
        try:
            async for captured in frames:
                async with self._lock:
                    self.engine.microphone(captured, self._clock())
                    await self._perform()
                done = self._calibration_done
                if done is not None and self.engine.calibration is None:
                    done.set()
        except RealtalkError as exc:
            # A device that fails (unplugged, bad format) ends the conversation with a reason,
            # not with an exception out of a background task.
            self._fail(f"microphone failed: {exc}")
        finally:
            # Close an async generator source now, not when it is garbage collected.
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()

    async def _timer(self) -> None:
        while True:
            deadline = self.engine.next_deadline()
            delay = math.inf if deadline is None else max(0.0, deadline - self._clock())
            with anyio.move_on_after(delay):
                await self._wake.wait()
            self._wake = anyio.Event()
            async with self._lock:
                self.engine.tick(self._clock())
                await self._perform()

    async def _tool_finished(self, call_id: str, result: object, error: str | None) -> None:
        async with self._lock:
            self.engine.tool_finished(call_id, self._clock(), result=result, error=error)
            await self._perform()

    # -- performing the engine's effects -------------------------------------------------------

    async def _perform(self) -> None:
        """Perform the engine's effects in order. Call with the lock held."""
        performed = False
        # Sending can produce more (the session's latency marks, what follows them).
        while effects := self.engine.effects():
            performed = True
            for effect in effects:
                if isinstance(effect, Emit):
                    self._emit(effect.event)
                elif isinstance(effect, RunTool | CancelTool):
                    self._tools.perform(effect)
                elif isinstance(effect, OpenNextSession):
                    self._spawn(self._next_session)
                elif isinstance(effect, SwitchSession):
                    self._switch()
                elif not self._closed and not self.engine.reconnecting:
                    # (During an outage the engine holds its sends: these were on their way
                    # when the connection broke, and are lost with it.)
                    await self._send_text(encode(effect.event))
                    self.engine.sent(effect, self._clock())
        if performed:
            self._wake.set()

    async def _send_text(self, text: str) -> None:
        try:
            assert self._transport is not None, "sending before the transport is connected"
            await self._transport.send(text)
        except ConnectionClosed as exc:
            self._lost(exc)

    def _fail(self, message: str) -> None:
        """End the conversation with a fatal error event saying why."""
        if self._closed:
            return
        self.engine.fail(message, self._clock())
        self._shutdown(message)

    def _emit(self, event: AppEvent) -> None:
        try:
            self._send_events.send_nowait(event)
        except anyio.WouldBlock:
            self.dropped_events += 1
            if self.dropped_events == 1 or self.dropped_events % 1000 == 0:
                logger.warning("event buffer full: %d conversation events dropped so far",
                               self.dropped_events)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass


class _EventStream:
    """What :meth:`Conversation.events` returns: the conversation's event stream, which ends
    when the conversation closes and says so if read after its ``async with`` block."""

    def __init__(self, conversation: Conversation) -> None:
        self._conversation = conversation
        self._stream = conversation._recv_events

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> AppEvent:
        try:
            return await self._stream.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
        except anyio.ClosedResourceError:
            raise self._conversation._not_open("reading events") from None


def _check_arguments(
    *, provider: object, config: object, input: object, output: object, barge_in: object,
    vad: object, cancel_timeout: object, clock: object, event_buffer: object,
    transcripts: object,
) -> None:
    """Conversation's arguments, each checked here rather than found wrong in a task."""
    check_methods("provider", provider, ("connect",),
                  "a provider (realtalk.providers.openai(), azure(), local() or endpoint())")
    check_choice("provider.shape", getattr(provider, "shape", None), ("ga", "beta"))
    check_type("config", config, (SessionConfig, type(None)), "a SessionConfig or None")
    check_methods("input", input, ("frames",), "an AudioInput (with frames() and "
                  "sample_rate) or None", optional=True)
    if input is not None:
        check_sample_rate(getattr(input, "sample_rate", None), "input.sample_rate")
    check_methods("output", output, _OUTPUT_METHODS, "an AudioOutput (with "
                  f"{', '.join(m + '()' for m in _OUTPUT_METHODS)}) or None", optional=True)
    check_type("barge_in", barge_in, (BargeIn, type(None)), "a BargeIn or None")
    check_methods("vad", vad, ("is_speech", "reset"), "a VoiceActivityDetector (with "
                  "is_speech() and reset()) or None", optional=True)
    check_number("cancel_timeout", cancel_timeout, positive=True)
    check_clock(clock)
    check_number("event_buffer", event_buffer, integer=True, minimum=1)
    check_methods("transcripts", transcripts, ("append",), "a TranscriptStore (such as "
                  "realtalk.transcripts.open_store(path)) or None", optional=True)


_OUTPUT_METHODS = ("write", "clear", "set_gain", "mark_end", "played_samples",
                   "buffered_samples")

