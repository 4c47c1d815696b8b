"""``Conversation``: the async context manager that wires transport, session core and audio.

Three tasks run inside the conversation's task group, and share the session core under one
lock, so each core step and the actions it returns are performed atomically and in order:

- the *reader* parses server frames and feeds them to the core;
- the *microphone pump* runs the local detector on each frame (barge-in fast path), then sends
  the frame upstream;
- the *timer* wakes at the core's next deadline (end of playback, cancel timeout).

Conversation events go to a buffered stream read with :meth:`Conversation.events`. The hot path
never waits on the app: if the app stops reading and the buffer fills, events are dropped and
counted (:attr:`Conversation.dropped_events`), never the audio or the cancel.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Literal

import anyio
import anyio.abc
import anyio.lowlevel
import numpy as np
import numpy.typing as npt

from ._args import (
    check_choice,
    check_clock,
    check_flag,
    check_methods,
    check_number,
    check_sample_rate,
    check_type,
)
from .audio.actions import perform_audio_action
from .audio.base import AudioInput, AudioOutput
from .audio.frame import AudioFrame
from .audio.memory import MemoryOutput
from .audio.pcm import int16_to_bytes
from .audio.resample import StreamingResampler
from .echo import (
    CalibrationProbe,
    EchoCanceller,
    EchoControl,
    EchoFilter,
    EchoFilterChain,
    EchoGate,
    EchoOption,
    EchoPathMeasurement,
    EchoRiskChange,
    EchoRiskLevel,
    EchoRiskWatch,
    EchoTranscriptDropped,
    NearEndLog,
    TranscriptFilterChain,
    measure_echo_path,
    seed_canceller,
    seed_gate,
)
from .errors import (
    ConfigurationError,
    ConnectionClosed,
    ConversationClosed,
    EventParseError,
    RealtalkError,
    unwrap_group,
)
from .events import (
    ConversationItemCreate,
    InputAudioBufferAppend,
    ResponseCreate,
    encode,
    parse_server_event,
)
from .providers import Provider
from .session import (
    AUDIO_ACTIONS,
    ConversationEvent,
    ErrorOccurred,
    Interrupted,
    Output,
    SendEvent,
    Session,
    State,
)
from .session.barge_in import BargeIn
from .session_config import PCM_SAMPLE_RATE, SessionConfig
from .transcripts import TranscriptRecorder, TranscriptStore, TranscriptStoreError
from .transport import Transport
from .vad import OnsetDetector, VoiceActivityDetector

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

__all__ = ("Conversation", "AppEvent")

logger = logging.getLogger("realtalk.conversation")

_DEFAULT_EVENT_BUFFER = 10_000
_DEFAULT_BARGE_IN = BargeIn()


AppEvent = ConversationEvent | EchoTranscriptDropped | EchoRiskChange | EchoPathMeasurement
"""What :meth:`Conversation.events` yields: the session's events, the user transcripts the
transcript echo filters dropped (in place of the :class:`~realtalk.UserTranscript`), the
echo-risk watch's changes of level, and each echo-path calibration's figures."""


class Conversation:
    """An interruptible, full-duplex voice conversation.

    Args:
        provider: where to connect (:func:`realtalk.providers.local`, ``openai``, ``azure``).
        config: the session configuration (instructions, voice, turn detection, ...).
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
        half_duplex: mute the microphone while the assistant speaks (no echo, and no barge-in
            by voice): the last-resort mode for devices where nothing else works.
        echo: the audio-level echo filter run on every microphone frame that carries its
            speaker reference, before the detector and before the audio goes upstream:
            ``"default"`` (:func:`realtalk.echo.default`, the adaptive canceller), any
            :class:`~realtalk.echo.EchoFilter`, or ``None``. Frames without a reference
            (an input that cannot know what the speaker played) pass unchanged.
        transcript_filters: the transcript-level echo filters every user transcript is judged
            by, against the assistant speech the user heard: ``"default"``
            (:func:`realtalk.echo.default_transcript_filters`), a chain, or ``None``. A
            transcript judged to be the assistant's own voice is replaced in the event stream
            by :class:`~realtalk.echo.EchoTranscriptDropped`, carrying every verdict.
        transcripts: a :class:`~realtalk.transcripts.TranscriptStore` to record every user and
            assistant transcript in (with the filters' verdicts, dropped ones flagged) and
            every interruption; see :attr:`recorder`. A failed write is an
            :class:`~realtalk.ErrorOccurred` event, not the end of the conversation.
        echo_watch: the echo-risk watch (``"default"``: :class:`~realtalk.echo.EchoRiskWatch`
            with its defaults; ``None``: off), fed every frame the echo filter cleaned. When
            the echo left after cancelling stays high it moves to ``"raised"`` (barge-in needs
            twice ``min_speech_ms`` and the gate a 6 dB wider margin) or ``"half_duplex"``
            (the microphone is muted while the assistant speaks), and back to ``"normal"``
            once the echo is under control; each change is an
            :class:`~realtalk.echo.EchoRiskChange` event, and :attr:`echo_risk` is the level.
        calibrate_at_start: measure the echo path on entering (:meth:`calibrate`: a 0.6 s
            probe at -40 dBFS is played), before anything else is played or sent. Off by
            default because it makes a sound; the microphone must carry its speaker reference
            (:class:`~realtalk.audio.SoundDevice` does).

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
        half_duplex: bool = False,
        echo: EchoOption = "default",
        transcript_filters: TranscriptFilterChain | Literal["default"] | None = "default",
        transcripts: TranscriptStore | None = None,
        echo_watch: EchoRiskWatch | Literal["default"] | None = "default",
        calibrate_at_start: bool = False,
    ) -> None:
        _check_arguments(provider=provider, config=config, input=input, output=output,
                         barge_in=barge_in, vad=vad, cancel_timeout=cancel_timeout, clock=clock,
                         event_buffer=event_buffer, half_duplex=half_duplex, echo=echo,
                         transcript_filters=transcript_filters, transcripts=transcripts,
                         echo_watch=echo_watch, calibrate_at_start=calibrate_at_start)
        if calibrate_at_start and input is None:
            raise ConfigurationError("calibrate_at_start needs a microphone (input=...)")
        self.calibrate_at_start = calibrate_at_start
        self.echo_path: EchoPathMeasurement | None = None
        """The last echo-path calibration's figures (``None`` before any)."""
        self.provider = provider
        self._recording: _Recording | None = None
        self.recorder = TranscriptRecorder(transcripts) if transcripts is not None else None
        self.input = input
        self.output: AudioOutput = output if output is not None else MemoryOutput(
            PCM_SAMPLE_RATE, clock=clock)
        output_rate = getattr(self.output, "sample_rate", None)
        if output_rate != PCM_SAMPLE_RATE:
            raise ConfigurationError(
                f"expected an output at {PCM_SAMPLE_RATE} Hz (the realtime protocol's PCM16 "
                f"rate) for output, got {type(self.output).__name__} at {output_rate!r} Hz")
        self.barge_in = barge_in
        self.session = Session.with_barge_in(config, barge_in, wire_shape=provider.shape,
                                             cancel_timeout=cancel_timeout)
        self._detector = (OnsetDetector(barge_in, vad, EchoGate()) if barge_in is not None
                          else None)
        self.echo_control = EchoControl(
            echo=echo, sample_rate=PCM_SAMPLE_RATE, detector=self._detector,
            barge_in=barge_in,
            watch=echo_watch, transcript_filters=transcript_filters,
            half_duplex=half_duplex)
        """The echo defences run on every microphone frame and user transcript."""
        self._clock: Callable[[], float] = clock if clock is not None else anyio.current_time
        self._event_buffer = event_buffer
        self._stack: contextlib.AsyncExitStack | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._task_scopes: list[anyio.CancelScope] = []
        self._transport: Transport | None = None
        self._closed = False
        self.closed_reason: str | None = None
        """Why the conversation closed (``None`` while it runs)."""
        self.interruptions: list[Interrupted] = []
        self.dropped_events = 0

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
                self.session.open(self._clock())
                await self._perform()
            self._spawn(self._reader, transport)
            self._spawn(self._timer)
            if self.input is not None:
                self._spawn(self._microphone, self.input)
            if self.calibrate_at_start:
                await self.calibrate()
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
        self.session.close(self._clock())
        self._emit_outputs_without_io()
        self._send_events.close()
        for scope in self._task_scopes:
            scope.cancel()

    def _emit_outputs_without_io(self) -> None:
        for out in self.session.outputs():
            if not isinstance(out, (SendEvent, *AUDIO_ACTIONS)):
                self._deliver(out)  # no I/O after close: only the events remain

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
        probe = probe if probe is not None else CalibrationProbe(PCM_SAMPLE_RATE)
        if probe.sample_rate != PCM_SAMPLE_RATE:
            raise ConfigurationError(f"the probe must be at {PCM_SAMPLE_RATE} Hz, "
                                     f"got {probe.sample_rate}")
        played = probe.samples()
        tail = PCM_SAMPLE_RATE * 3 // 4  # the longest delay searched plus the room's tail
        recording = _Recording(len(played) + tail)
        self._recording = recording
        try:
            self.output.write(played)
            with anyio.fail_after(recording.needed / PCM_SAMPLE_RATE + 6.0):
                await recording.done.wait()
        finally:
            self._recording = None
        if recording.without_reference:
            raise ConfigurationError(
                "calibrate() needs microphone frames that carry what the speaker played "
                "(AudioFrame.reference), as SoundDevice's do")
        mic, reference = recording.signals()
        start = _find(played, reference)
        measurement: EchoPathMeasurement = measure_echo_path(played, mic[start:],
                                                             PCM_SAMPLE_RATE)
        for stage in _filters(self.echo):
            if isinstance(stage, EchoCanceller):
                seed_canceller(stage, measurement, PCM_SAMPLE_RATE)
        gate = self._detector.gate if self._detector is not None else None
        if isinstance(gate, EchoGate):
            seed_gate(gate, measurement)
        logger.info("echo path: delay %.1f ms, gain %.1f dB, ok=%s %s", measurement.delay_ms,
                    measurement.gain_db, measurement.ok, measurement.reason or "")
        self.echo_path = measurement
        self._emit(measurement)
        return measurement

    async def send_text(self, text: str, *, respond: bool = True) -> None:
        """Add a user text message, and by default ask for a spoken response.

        Raises:
            ConversationClosed: the conversation is not running.
        """
        check_type("text", text, str, "a string")
        item = {"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": text}]}
        await self._send_client(ConversationItemCreate(item=item), "send_text()")
        if respond:
            await self._send_client(ResponseCreate(), "send_text()")

    async def create_response(self) -> None:
        """Ask the model to respond now (manual turns).

        Raises:
            ConversationClosed: the conversation is not running.
        """
        await self._send_client(ResponseCreate(), "create_response()")

    async def interrupt(self) -> bool:
        """Interrupt the assistant as a barge-in would. Returns whether it was speaking.

        Raises:
            ConversationClosed: the conversation is not running.
        """
        self._check_open("interrupt()")
        async with self._lock:
            now = self._clock()
            self.session.playback_progress(self.output.played_samples(), now)
            interrupted = self.session.interrupt(now)
            await self._perform()
        return interrupted

    async def _send_client(self, event: InputAudioBufferAppend | ConversationItemCreate
                           | ResponseCreate, what: str) -> None:
        self._check_open(what)
        async with self._lock:
            await self._send_text(encode(event))

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
        while True:
            try:
                text = await transport.receive()
            except ConnectionClosed as exc:
                await self._connection_lost(exc)
                return
            now = self._clock()
            try:
                event = parse_server_event(text)
            except EventParseError as exc:
                logger.warning("malformed server event: %s", exc)
                self._emit(ErrorOccurred(message=f"malformed server event: {exc}", error=None,
                                         benign=False, fatal=False, at=now))
                continue
            async with self._lock:
                self.session.receive(event, now)
                await self._perform()

    async def _microphone(self, source: AudioInput) -> None:
        frames = source.frames()
        resampler: StreamingResampler | None = None
        ref_resampler: StreamingResampler | None = None
        try:
            async for captured in frames:
                # The edge: whatever the microphone gives becomes 24 kHz mono PCM16 here,
                # and its echo reference with it (resampled alike, so they stay aligned).
                frame = captured.mono()
                if frame.sample_rate != PCM_SAMPLE_RATE:
                    if resampler is None or resampler.src_rate != frame.sample_rate:
                        resampler = StreamingResampler(frame.sample_rate, PCM_SAMPLE_RATE)
                        ref_resampler = StreamingResampler(frame.sample_rate, PCM_SAMPLE_RATE)
                    samples = resampler.process(frame.samples)
                    reference = None
                    if frame.reference is not None and ref_resampler is not None:
                        reference = ref_resampler.process(frame.reference)
                        if len(reference) != len(samples):
                            reference = None  # a reference that appeared mid-stream: skip it
                    if not len(samples):
                        continue
                    frame = AudioFrame(samples, PCM_SAMPLE_RATE, frame.timestamp,
                                       reference=reference)
                async with self._lock:
                    await self._on_mic_frame(frame)
        except RealtalkError as exc:
            # A device that fails (unplugged, bad format) ends the conversation with a reason,
            # not with an exception out of a background task.
            message = f"microphone failed: {exc}"
            self._emit(ErrorOccurred(message=message, error=None, benign=False, fatal=True,
                                     at=self._clock()))
            self._shutdown(message)
        finally:
            # Close an async generator source now, not when it is garbage collected.
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()

    async def _on_mic_frame(self, frame: AudioFrame) -> None:
        now = self._clock()
        captured_at = frame.timestamp if frame.timestamp is not None else now - frame.duration
        recording = self._recording
        if recording is not None:
            # Calibrating: the probe's echo is measured, not sent or taken for the user.
            recording.add(frame)
            if self.echo is not None:
                self.echo.process(frame)
            return
        cleaned, change = self.echo_control.microphone(frame, captured_at, self.session.state)
        if change is not None:
            self._emit(change)
        if cleaned is None:
            return  # muted (half-duplex)
        frame = cleaned
        # Detection first: a barge-in's stop and cancel must not wait behind the audio upload.
        if self._detector is not None:
            self._detector.inform(self.session, frame, captured_at, now,
                                  self.output.played_samples)
            await self._perform()
        await self._send_text(encode(InputAudioBufferAppend(audio=int16_to_bytes(
            frame.samples))))
        self.session.audio_sent(len(frame.samples), captured_at)
        self.echo_control.sent(frame, captured_at)

    async def _timer(self) -> None:
        while True:
            deadline = self.session.next_deadline()
            delay = math.inf if deadline is None else max(0.0, deadline - self._clock())
            with anyio.move_on_after(delay):
                await self._wake.wait()
            self._wake = anyio.Event()
            async with self._lock:
                now = self._clock()
                self.session.playback_progress(self.output.played_samples(), now)
                self.session.tick(now)
                await self._perform()

    # -- performing the core's outputs ---------------------------------------------------------

    async def _perform(self) -> None:
        """Perform the core's outputs in order. Call with the lock held."""
        performed = False
        # Performing an output can produce more (stopping playback releases the truncate).
        while outputs := self.session.outputs():
            performed = True
            await self._perform_batch(outputs)
        if performed:
            self._wake.set()

    async def _perform_batch(self, outputs: list[Output]) -> None:
        for out in outputs:
            if isinstance(out, AUDIO_ACTIONS):
                perform_audio_action(out, self.output, self.session, self._clock())
            elif isinstance(out, SendEvent):
                await self._send_text(encode(out.event))
                self.session.event_sent(out.event, self._clock())
            else:
                self._deliver(out)

    async def _send_text(self, text: str) -> None:
        try:
            assert self._transport is not None, "sending before the transport is connected"
            await self._transport.send(text)
        except ConnectionClosed as exc:
            await self._connection_lost(exc)

    async def _connection_lost(self, exc: ConnectionClosed) -> None:
        if self._closed:
            return
        message = f"connection lost: {exc}"
        logger.warning(message)
        self._emit(ErrorOccurred(message=message, error=None, benign=False, fatal=True,
                                 at=self._clock()))
        self._shutdown(message)
        await anyio.lowlevel.checkpoint()

    def _deliver(self, event: ConversationEvent) -> None:
        if isinstance(event, Interrupted):
            self.interruptions.append(event)
        out, verdicts = self.echo_control.screen(event)
        if isinstance(out, EchoTranscriptDropped):
            self.session.echo_item(out.item_id, self._clock())
        if self.recorder is not None:
            try:
                self.recorder.record(out, verdicts=verdicts)
            except TranscriptStoreError as exc:
                self._emit(ErrorOccurred(message=f"transcript store: {exc}", error=None,
                                         benign=False, fatal=False, at=self._clock()))
        self._emit(out)

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
    half_duplex: object, echo: object, transcript_filters: object, transcripts: object,
    echo_watch: object, calibrate_at_start: object,
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
    check_flag("half_duplex", half_duplex)
    check_flag("calibrate_at_start", calibrate_at_start)
    if not _is_default(echo):
        check_methods("echo", echo, ("process", "reset"), "'default', an EchoFilter (with "
                      "process() and reset()) or None", optional=True)
    if not _is_default(transcript_filters):
        check_type("transcript_filters", transcript_filters,
                   (TranscriptFilterChain, type(None)),
                   "'default', a TranscriptFilterChain or None")
    if not _is_default(echo_watch):
        check_type("echo_watch", echo_watch, (EchoRiskWatch, type(None)),
                   "'default', an EchoRiskWatch or None")
    check_methods("transcripts", transcripts, ("append",), "a TranscriptStore (such as "
                  "realtalk.transcripts.open_store(path)) or None", optional=True)


_OUTPUT_METHODS = ("write", "clear", "set_gain", "mark_end", "played_samples",
                   "buffered_samples")


def _is_default(option: object) -> bool:
    # Compared as a string only: a filter object's own == is none of our business.
    return isinstance(option, str) and option == "default"


class _Recording:
    """Microphone frames and their references, collected while the calibration probe plays."""

    def __init__(self, needed: int) -> None:
        self.needed = needed
        self.mic: list[npt.NDArray[np.int16]] = []
        self.reference: list[npt.NDArray[np.int16]] = []
        self.samples = 0
        self.without_reference = False
        self.done = anyio.Event()

    def add(self, frame: AudioFrame) -> None:
        if frame.reference is None:
            self.without_reference = True
            self.done.set()
            return
        self.mic.append(frame.samples)
        self.reference.append(frame.reference)
        self.samples += len(frame.samples)
        # Enough once the probe can have started late by a second of queued playback too.
        if self.samples >= self.needed + PCM_SAMPLE_RATE:
            self.done.set()

    def signals(self) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
        return np.concatenate(self.mic), np.concatenate(self.reference)


def _find(probe: npt.NDArray[np.int16], reference: npt.NDArray[np.int16]) -> int:
    """Where the probe starts in the recorded speaker reference (it is there sample for
    sample: the reference is what the speaker was sent)."""
    size = 1 << (len(reference) + len(probe)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(reference.astype(np.float64), size)
                        * np.conj(np.fft.rfft(probe.astype(np.float64), size)), size)
    return int(np.argmax(corr[: len(reference) - len(probe) + 1]))


def _filters(echo: EchoFilter | None) -> list[EchoFilter]:
    """The stages of an echo filter (a chain's, or the filter itself)."""
    if echo is None:
        return []
    if isinstance(echo, EchoFilterChain):
        return list(echo.filters)
    return [echo]
