"""The conversation engine: everything a conversation decides, in one fixed order, without I/O.

A live :class:`~realtalk.Conversation` (anyio tasks, a real clock, a socket) and the offline
:class:`~realtalk.sim.Simulation` (a virtual clock, a virtual room) are thin loops over one
:class:`ConversationEngine`: they feed it inputs and perform what it hands back, so they
behave the same by construction. Inputs, each with the caller's monotonic ``now``:

- :meth:`~ConversationEngine.microphone` -- a captured frame: converted at the edge (mono,
  the engine's rate), recorded if a calibration runs, cleaned by the echo defences, run
  through the barge-in detector (**detection first**: a barge-in's stop and cancel never wait
  behind the audio upload), then queued upstream;
- :meth:`~ConversationEngine.server_frame` -- a frame from the server, parsed here (a malformed
  one is an :class:`~realtalk.ErrorOccurred` event, and the conversation goes on);
- :meth:`~ConversationEngine.tick` -- at :meth:`~ConversationEngine.next_deadline`, and
  whenever playback may have moved;
- :meth:`~ConversationEngine.sent` -- an event the shell put on the wire;
- :meth:`~ConversationEngine.fail` -- the connection or the microphone is gone;
- the app's requests (:meth:`~ConversationEngine.user_text`,
  :meth:`~ConversationEngine.interrupt`, :meth:`~ConversationEngine.calibrate`, ...).

What comes back from :meth:`~ConversationEngine.effects`, to perform in order:
:class:`~realtalk.session.SendEvent` (write the event to the server, then call
:meth:`~ConversationEngine.sent`) and :class:`Emit` (hand the event to the app). The engine
plays, stops and ducks audio on the :class:`~realtalk.audio.AudioOutput` itself: that protocol
never blocks, and a stop must read the output's final played count in the same step, so the
truncate is exactly what the user heard. A transcript store, when given, is written to
synchronously as events are emitted, the reconnects and rollovers among them (a failed write
is an error event).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any, TypeAlias

import attrs

from .audio.base import AudioOutput
from .audio.edge import MicrophoneEdge
from .audio.frame import AudioFrame
from .audio.hold import PlaybackHold
from .audio.pcm import bytes_to_int16, int16_to_bytes
from .echo import (
    EchoControl,
    EchoDefences,
    EchoFilter,
    EchoFilterChain,
    EchoGate,
    EchoPathMeasurement,
    EchoRiskChange,
    EchoTranscriptDropped,
    seed_canceller,
    seed_gate,
)
from .echo.calibration import (
    CalibrationProbe,
    CalibrationRecording,
    DelaySeedable,
    GainSeedable,
)
from .echo.transcript import TranscriptVerdict
from .errors import ConfigurationError, EventParseError
from .reconnect import LostResponse, Outage, Reconnect, Reconnected, Reconnecting
from .rollover import OpenNextSession, RolledOver, RolloverSchedule, SwitchSession
from .session import (
    AUDIO_ACTIONS,
    AudioAction,
    ClientSession,
    ConversationEvent,
    DuckPlayback,
    EndOfAudio,
    ErrorOccurred,
    Interrupted,
    InterruptionDecided,
    PausePlayback,
    PlayAudio,
    ResumePlayback,
    SendEvent,
    State,
    StateChanged,
    StopPlayback,
    UserSpeechStarted,
    UserTranscript,
)
from .session.barge_in import BargeIn
from .session.context import ConversationContext
from .session.playback import ItemKey
from .session_config import (
    DEFAULT_TRANSCRIPTION_MODEL,
    PCM_SAMPLE_RATE,
    SessionConfig,
    WireShape,
)
from .tools import Tool
from .tools.calls import (
    DEFAULT_MAX_TOOL_STEPS,
    CancelTool,
    RunTool,
    ToolCallEvent,
    ToolCalls,
)
from .transcripts import TranscriptRecorder, TranscriptStore, TranscriptStoreError
from .vad import OnsetDetector, VoiceActivityDetector
from .wire import (
    ConversationItemCreate,
    InputAudioBufferAppend,
    InputAudioBufferSpeechStopped,
    ResponseCreate,
    parse_server_event,
)

__all__ = ("AppEvent", "ConversationEngine", "Effect", "Emit", "CancelTool", "RunTool")

logger = logging.getLogger("realtalk.engine")

_DEFAULT_ECHO = EchoDefences()

AppEvent: TypeAlias = (
    ConversationEvent | EchoTranscriptDropped | EchoRiskChange | EchoPathMeasurement
    | ToolCallEvent | Reconnecting | Reconnected | RolledOver
)
"""What :meth:`realtalk.Conversation.events` yields: the session's events, the user
transcripts the transcript echo filters dropped (in place of the
:class:`~realtalk.UserTranscript`), the echo-risk watch's changes of level, each echo-path
calibration's figures, the tool calls' starts, ends and cancellations, the reconnects and the
rollovers."""


@attrs.frozen
class Emit:
    """An effect: deliver ``event`` to the app."""

    event: AppEvent


Effect: TypeAlias = SendEvent | Emit | RunTool | CancelTool | OpenNextSession | SwitchSession
"""What the engine asks its shell to do, in order: :class:`RunTool` starts a tool's function
(report its end with :meth:`ConversationEngine.tool_finished`), :class:`CancelTool` stops it
(its answer was given already); :class:`~realtalk.rollover.OpenNextSession` and
:class:`~realtalk.rollover.SwitchSession` roll the conversation over to a new connection
(:mod:`realtalk.rollover`)."""


class ConversationEngine:
    """One conversation's decisions: the session core, the echo defences, the barge-in
    detector, calibration and transcript recording, driven in one order.

    Args:
        output: the speaker (never blocks; the engine plays, stops and ducks it).
        sample_rate: the rate microphone frames are converted to and processed at.
        config, barge_in, vad, echo, transcripts: as in :class:`~realtalk.Conversation`
            (``echo.calibrate_at_start`` starts a calibration in :meth:`open`).
        wire_shape: ``"ga"`` or ``"beta"``, the protocol shape of the provider.
        cancel_timeout: seconds to wait for upstream to confirm a cancel.
        tools, max_tool_steps: the function tools the model may call, declared in the
            session, and how many follow-ups a chain of calls may take
            (:mod:`realtalk.tools.calls` has the rules).
        reconnect: what :meth:`lost` does (``None``: a lost connection is the end, as
            :meth:`fail`), and when a session is rolled over.

    Raises:
        ConfigurationError: tools given here and in ``config.extra`` too, or a bad tool
            setting.
    """

    def __init__(
        self,
        *,
        output: AudioOutput,
        sample_rate: int = PCM_SAMPLE_RATE,
        config: SessionConfig | None = None,
        barge_in: BargeIn | None = None,
        vad: VoiceActivityDetector | None = None,
        echo: EchoDefences = _DEFAULT_ECHO,
        transcripts: TranscriptStore | None = None,
        wire_shape: WireShape = "ga",
        cancel_timeout: float = 2.0,
        tools: Sequence[Tool] = (),
        max_tool_steps: int = DEFAULT_MAX_TOOL_STEPS,
        reconnect: Reconnect | None = None,
    ) -> None:
        self.output = output
        self._playback = PlaybackHold(output)  # every write goes through it: a pause holds
        self.sample_rate = sample_rate
        self.tool_calls = ToolCalls(tools, max_tool_steps) if tools else None
        """The tool-call ledger (``None`` without tools)."""
        if self.tool_calls is not None:
            config = _declaring(config, self.tool_calls)
        config = _transcribing(config, echo)
        # A new connection gets a new session core, configured alike.
        self._new_session = functools.partial(ClientSession, config, barge_in=barge_in,
                                              wire_shape=wire_shape,
                                              cancel_timeout=cancel_timeout)
        self.session = self._new_session()
        self.detector = (OnsetDetector(barge_in, vad, EchoGate(), sample_rate=sample_rate)
                         if barge_in is not None else None)
        self.echo_control = EchoControl(echo, sample_rate=sample_rate, detector=self.detector,
                                        barge_in=barge_in)
        self.recorder = TranscriptRecorder(transcripts) if transcripts is not None else None
        self.interruptions: list[Interrupted] = []
        self.echo_path: EchoPathMeasurement | None = None
        """The last echo-path calibration's figures (``None`` before any)."""
        self.calibration: CalibrationRecording | None = None
        """The calibration under way, if any."""
        self.uplinked: tuple[AudioFrame, float] | None = None
        """The frame the last :meth:`microphone` call queued upstream (as cleaned) and its
        capture time; ``None`` when that call sent nothing (muted, calibrating, closed)."""
        self.context = ConversationContext()
        """What the model should remember, as the user heard it: what a reconnect restores."""
        self.reconnect = reconnect
        self.rollover = (RolloverSchedule(reconnect.rollover_after_s, reconnect.attempts,
                                          track_transcripts=config.transcription_model
                                          is not False)
                         if reconnect is not None and reconnect.rollover_after_s is not None
                         else None)
        """When the session rolls over (``None``: never)."""
        self.outage: Outage | None = None
        """The outage under way (between :meth:`lost` and :meth:`reconnected`), if any."""
        self.failure: str | None = None
        """The fatal error's message, once the conversation failed."""
        self.closed = False
        self._edge = MicrophoneEdge(sample_rate)
        self._effects: list[Effect] = []

    # -- what the shells read ------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The session state (idle / listening / speaking / cancelling)."""
        return self.session.state

    def effects(self) -> list[Effect]:
        """Drain what to do, in order. Performing a :class:`SendEvent` (then :meth:`sent`)
        can produce more: call again until empty. During an outage, events to send are held
        for the next session instead."""
        out, self._effects = self._effects, []
        if self.outage is not None or any(_orphan_output(e, self.context) for e in out):
            out = self._held_back(out)
        return out

    def playing(self) -> tuple[ItemKey | None, float]:
        """The assistant's item part at the play head (``None``: nothing queued) and how
        many milliseconds of it have been heard."""
        key = self.session.tracker.playing()
        return key, self.session.tracker.heard_ms(key) if key is not None else 0.0

    def next_deadline(self) -> float | None:
        """The earliest ``now`` at which :meth:`tick` has work to do, if any."""
        deadlines = [self.session.next_deadline(),
                     self.tool_calls.next_deadline() if self.tool_calls is not None else None,
                     self.rollover.next_deadline() if self.rollover is not None else None]
        return min((d for d in deadlines if d is not None), default=None)

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self, now: float) -> None:
        """The connection is up: configure the session, and start measuring the echo path if
        the echo defences ask for it (see :attr:`calibration`)."""
        self.session.open(now)
        self._drain(now)
        if self.rollover is not None:
            self.rollover.session_opened(now)
        if self.echo_control.defences.calibrate_at_start:
            self.calibrate()

    def close(self, now: float) -> None:
        """The conversation ends: nothing is sent or played after this, only the last events
        are emitted."""
        if self.closed:
            return
        self.closed = True
        self.session.close(now)
        self._drain(now)

    def fail(self, message: str, now: float) -> None:
        """The conversation cannot go on (the connection is gone, the microphone failed): a
        fatal error event saying why, then :meth:`close`."""
        if self.closed:
            return
        logger.warning(message)
        self.failure = message
        self._error(message, now, fatal=True)
        self.close(now)

    @property
    def reconnecting(self) -> bool:
        """Whether an outage is under way (nothing can be sent until :meth:`reconnected`)."""
        return self.outage is not None

    def lost(self, reason: str, now: float) -> float | None:
        """The connection is gone (``reason``: what the transport said). Playback stops where
        the user is, what was heard is kept in :attr:`context`, and :class:`Reconnecting` is
        emitted: returns the seconds to wait before connecting again. Returns ``None`` when
        the conversation cannot go on (no :class:`Reconnect` settings, or its attempts are
        spent): then it has failed, as :meth:`fail`, naming ``reason``."""
        if self.closed:
            return None
        if self.reconnect is None:
            self.fail(f"connection lost: {reason}", now)
            return None
        if self.outage is None:
            self.outage = Outage(self.reconnect, reason, now)
            self.outage.lost_response = self._stop_for_outage(now)
            if self.rollover is not None:
                self.rollover.session_lost()
        return self.attempt_failed(reason, now)

    def attempt_failed(self, reason: str, now: float) -> float | None:
        """An attempt to reconnect failed (``reason``: the connect error): as :meth:`lost`."""
        outage = self.outage
        if self.closed or outage is None:
            return None
        attempt = outage.next_attempt(reason, now)
        if attempt is None:
            self.fail(outage.gave_up(), now)
            return None
        logger.warning("connection lost (%s): reconnect attempt %d in %.2f s", reason,
                       attempt.attempt, attempt.delay_s)
        self._emit(attempt)
        return attempt.delay_s

    def reconnected(self, now: float) -> None:
        """A new connection is open: configure it as the first (the same
        ``session.update``), recreate the context, send what the outage held, and emit
        :class:`Reconnected`."""
        outage, self.outage = self.outage, None
        if self.closed or outage is None:
            return
        restored = self._fresh_session(now)
        self._effects.extend(SendEvent(event) for event in outage.held)
        logger.info("reconnected after %.2f s: %d items restored", now - outage.started_at,
                    restored)
        event = outage.ended(restored, now, self.sample_rate)
        self._record(event, now)
        self._emit(event)

    def next_session_ready(self, now: float) -> None:
        """The connection an :class:`~realtalk.rollover.OpenNextSession` asked for is open:
        the switch comes at the first quiet moment (at once if this is one)."""
        if self.rollover is not None and not self.closed and self.outage is None:
            self.rollover.ready()
            self._roll_over_if_quiet(now)

    def next_session_failed(self, reason: str, now: float) -> None:
        """The connection an :class:`~realtalk.rollover.OpenNextSession` asked for could not
        be opened (``reason``): it is asked for again after the reconnect backoff."""
        if self.rollover is not None and self.reconnect is not None:
            self.rollover.failed(reason, self.reconnect.delay(self.rollover.failures + 1), now)

    def _fresh_session(self, now: float) -> int:
        """Replace the session core with a new one, configured as the first, and queue the
        context's restore on it; return the items restored."""
        stats = self.session.stats
        self.session = self._new_session()
        self.session.stats = stats
        # The output's count goes on across sessions: the new tracker starts where it is, or
        # it would take the old sessions' audio for its own (and its heard positions, its
        # truncates, would be wrong).
        self.session.tracker.resync(self.output.played_samples())
        self.session.open(now)
        self._drain(now)
        restore = self.context.restore_events(self.session.wire_shape)
        self._effects.extend(SendEvent(event) for event in restore)
        self.context.restored()
        if self.rollover is not None:
            self.rollover.session_opened(now)
        return len(restore)

    def _quiet(self, now: float) -> bool:
        """A turn boundary: nothing is said or about to be, by either side."""
        detector = self.detector
        return (self.session.state is State.LISTENING and not self.session.yielded
                and not self.context.responses_in_progress
                and (detector is None or not (detector.speaking or detector.probable))
                and (self.tool_calls is None or not self.tool_calls.unanswered)
                and self.calibration is None
                and self.rollover is not None and self.rollover.turn_settled(now))

    def _roll_over_if_quiet(self, now: float) -> None:
        rollover = self.rollover
        if rollover is None or rollover.phase != "ready" or self.closed \
                or self.outage is not None or not self._quiet(now):
            return
        # The old session is left as it is, in the same quiet state as the new one: the app
        # sees no state change.
        opened_at = rollover.opened_at
        self.context.connection_lost(lambda key: (0.0, 0.0))  # all heard: nothing is cut
        self._effects.append(SwitchSession())
        began = len(self._effects)
        restored = self._fresh_session(now)
        self._effects[began:] = [e for e in self._effects[began:] if not (
            isinstance(e, Emit) and isinstance(e.event, StateChanged))]
        event = RolledOver(session_age_s=now - opened_at,
                           waited_s=now - opened_at - rollover.after_s,
                           items_restored=restored, at=now)
        logger.info("rolled over to a new session after %.0f s: %d items restored",
                    event.session_age_s, restored)
        self._record(event, now)
        self._emit(event)

    def _stop_for_outage(self, now: float) -> LostResponse | None:
        """Stop playback where the user is, keep what they heard, end the old session's
        business (its replies in progress, their unfinished tool calls), and return the reply
        the loss cut off."""
        tracker = self.session.tracker
        tracker.update(self.output.played_samples())
        playing = tracker.playing()
        tracker.update(self._playback.clear())
        in_progress = self.context.responses_in_progress
        self.context.connection_lost(lambda key: (tracker.heard_ms(key),
                                                  tracker.received_ms(key)))
        if self.tool_calls is not None:
            self.tool_calls.connection_lost(now)
        self.session.close(now)
        self._drain(now)
        # What the old session still wanted to send (a truncate, a cancel) has no session.
        self._effects = [e for e in self._effects if not isinstance(e, SendEvent)]
        response_id = in_progress[-1] if in_progress else (
            self.context.response_of(playing[0]) if playing is not None else None)
        if response_id is None:
            return None
        parts = self.context.assistant_parts(response_id)
        key = playing if playing in parts else (parts[-1] if parts else None)
        return LostResponse(
            response_id=response_id, item_id=key[0] if key is not None else None,
            heard_ms=tracker.heard_ms(key) if key is not None else 0.0,
            heard_text=self.context.heard_text(key[0]) if key is not None else "")

    def _held_back(self, effects: list[Effect]) -> list[Effect]:
        """``effects`` less the sends held for the next session (during an outage) and the
        outputs of calls the session does not have (they were not restored)."""
        kept: list[Effect] = []
        for effect in effects:
            if not isinstance(effect, SendEvent):
                kept.append(effect)
            elif self.outage is not None:
                # Which session has the call is known once it is restored.
                self.outage.held.append(effect.event)
            elif _orphan_output(effect, self.context):
                logger.info("not sending a function output: its call was not restored to "
                            "this session")
            else:
                kept.append(effect)
        return kept

    # -- inputs --------------------------------------------------------------------------------

    def microphone(self, captured: AudioFrame, now: float) -> None:
        """One frame from the microphone, captured at ``captured.timestamp`` (or ending at
        ``now`` when it has none)."""
        self.uplinked = None
        if self.closed:
            return
        frame = self._edge.convert(captured)
        if frame is None:
            return
        if self.outage is not None:
            # The user hears silence: what they say into it is not answered late.
            self.outage.audio_dropped_samples += len(frame.samples)
            return
        captured_at = frame.timestamp if frame.timestamp is not None else now - frame.duration
        if self.calibration is not None:
            self._record_calibration(self.calibration, frame, now)
            return
        cleaned, change = self.echo_control.microphone(frame, captured_at, self.session.state)
        if change is not None:
            self._emit(change)
        if cleaned is None:
            return  # muted (half-duplex)
        if self.detector is not None:
            self._detect(self.detector, cleaned, captured_at, now)
            self._drain(now)
        self._effects.append(SendEvent(InputAudioBufferAppend(
            audio=int16_to_bytes(cleaned.samples))))
        self.session.audio_sent(len(cleaned.samples), captured_at)
        self.echo_control.sent(cleaned, captured_at)
        self.uplinked = (cleaned, captured_at)
        self._roll_over_if_quiet(now)

    def server_frame(self, frame: str | bytes, now: float) -> None:
        """One frame from the server."""
        if self.closed or self.outage is not None:
            return
        try:
            event = parse_server_event(frame)
        except EventParseError as exc:
            logger.warning("malformed server event: %s", exc)
            self._error(f"malformed server event: {exc}", now)
            return
        was = self.session.state
        self.context.server_event(event)
        if self.rollover is not None:
            self.rollover.server_event(event, now)
        self.session.receive(event, now)
        self._drain(now)
        if isinstance(event, InputAudioBufferSpeechStopped) and self.detector is not None:
            # The service's VAD ended a turn: the speech the detector heard since the last one
            # may have been the user's, under the level it learned for them
            # (OnsetDetector.turn_ended). Not on a commit: realtalk commits too, to check
            # short speech over the playback, and those are not the user's turns.
            self.detector.turn_ended()
        if was is not State.SPEAKING and self.session.state is State.SPEAKING \
                and self.detector is not None and self.detector.talking_now():
            # The assistant started over a user who is still talking (their onset came
            # before there was anything to interrupt): it stops at once, with no decision,
            # since the floor was the user's before the reply began. Not over the talkers
            # behind a user who has stopped (OnsetDetector.talking_now).
            self._user_speaks(now, onset=None, mid_turn=True)
            self._drain(now)
        if self.tool_calls is not None:
            self.tool_calls.server_event(event, now)
            self._drain(now)
        self._roll_over_if_quiet(now)

    def tick(self, now: float) -> None:
        """Time passed: read the playback position and handle the deadlines that are due."""
        if self.closed:
            return
        self._playback.forget_played()
        self.session.playback_progress(self.output.played_samples(), now)
        self.session.tick(now)
        if self.tool_calls is not None:
            self.tool_calls.tick(now)
        self._drain(now)
        if self.rollover is not None and self.outage is None and self.rollover.due(now):
            self._effects.append(OpenNextSession())
        self._roll_over_if_quiet(now)

    def sent(self, event: SendEvent, now: float) -> None:
        """The shell wrote ``event`` to the server at ``now`` (for the latency marks)."""
        self.context.sent(event.event)
        self.session.event_sent(event.event, now)
        self._drain(now)

    def tool_finished(self, call_id: str, now: float, *, result: Any = None,
                      error: str | None = None) -> None:
        """The function a :class:`RunTool` started returned ``result``, or raised (``error``
        describes it)."""
        if self.closed or self.tool_calls is None:
            return
        self.tool_calls.finished(call_id, now, result=result, error=error)
        self._drain(now)
        self._roll_over_if_quiet(now)

    def user_text(self, text: str, *, respond: bool = True) -> None:
        """The app adds a user text message, and by default asks for a response."""
        if self.tool_calls is not None:
            self.tool_calls.user_turn()
        self._effects.append(SendEvent(ConversationItemCreate(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]})))
        if respond:
            self.request_response()

    def request_response(self) -> None:
        """The app asks the model to respond now."""
        self._effects.append(SendEvent(ResponseCreate()))

    def interrupt(self, now: float) -> bool:
        """The app interrupts the assistant, as a barge-in would. Returns whether it was
        speaking."""
        if self.closed:
            return False
        self.session.playback_progress(self.output.played_samples(), now)
        interrupted = self.session.interrupt(now)
        self._drain(now)
        return interrupted

    def calibrate(self, probe: CalibrationProbe | None = None) -> CalibrationRecording:
        """Start measuring the echo path: the probe is queued on the speaker, and the
        microphone's frames are recorded (neither sent upstream nor given to the detector;
        the canceller still learns from them) until the recording is :attr:`finished
        <realtalk.echo.calibration.CalibrationRecording.finished>`. A trusted measurement
        then seeds the canceller and the gate, and is emitted.

        Raises:
            ConfigurationError: a calibration is already under way, or the probe is not at
                the engine's rate.
        """
        if self.calibration is not None:
            raise ConfigurationError("a calibration is already under way")
        probe = probe if probe is not None else CalibrationProbe(self.sample_rate)
        if probe.sample_rate != self.sample_rate:
            raise ConfigurationError(f"the probe must be at {self.sample_rate} Hz, "
                                     f"got {probe.sample_rate}")
        played = probe.samples()
        self.calibration = CalibrationRecording(played, self.sample_rate)
        self._playback.write(played)
        return self.calibration

    def cancel_calibration(self) -> None:
        """Stop recording for a calibration that will not finish (the shell gave up)."""
        self.calibration = None

    # -- the steps -----------------------------------------------------------------------------

    def _detect(self, detector: OnsetDetector, frame: AudioFrame, captured_at: float,
                now: float) -> None:
        onset = detector.process(frame, captured_at,
                                 echo_likeness=self.echo_control.echo_likeness)
        if onset is not None:
            self._user_speaks(now, onset=onset)
        elif detector.short_speech is not None:
            self.session.short_speech(now, detector.short_speech)
        # While the assistant has yielded, each frame is evidence for the decision.
        self.session.user_heard(now, detector.heard, frame.duration * 1000.0)
        # After the confirmation, which stops playback: a duck is kept in its latency.
        self.session.speech_probable(now, detector.probable)
        if self.tool_calls is not None:
            # A follow-up is not asked for while the user may be starting to talk.
            self.tool_calls.hold(detector.probable)

    def _user_speaks(self, now: float, *, onset: float | None, mid_turn: bool = False) -> None:
        """The local detector hears the user: the session decides (a barge-in while the
        assistant speaks). The play position is read just before, so that a stop's truncate
        is what was heard."""
        self.session.playback_progress(self.output.played_samples(), now)
        self.session.user_speech(now, onset=onset, source="local", mid_turn=mid_turn)

    def _record_calibration(self, recording: CalibrationRecording, frame: AudioFrame,
                            now: float) -> None:
        # The probe's echo is measured, not sent or taken for the user.
        recording.add(frame)
        echo = self.echo_control.echo
        if echo is not None:
            echo.process(frame)
        if not recording.finished:
            return
        self.calibration = None
        measurement = recording.result
        if measurement is None:
            return
        # Any stage or gate that can start from the measurement does (EchoCanceller and
        # EchoGate, and an app's own), not only the built-in classes.
        for stage in _stages(echo):
            if isinstance(stage, DelaySeedable):
                seed_canceller(stage, measurement, self.sample_rate)
        gate = self.detector.gate if self.detector is not None else None
        if isinstance(gate, GainSeedable):
            seed_gate(gate, measurement)
        logger.info("echo path: delay %.1f ms, gain %.1f dB, ok=%s %s", measurement.delay_ms,
                    measurement.gain_db, measurement.ok, measurement.reason or "")
        self.echo_path = measurement
        self._emit(measurement)

    def _drain(self, now: float) -> None:
        # Performing an output can produce more (stopping playback releases the truncate).
        while outputs := self.session.outputs():
            for out in outputs:
                if isinstance(out, SendEvent):
                    if not self.closed:
                        self._effects.append(out)
                elif isinstance(out, AUDIO_ACTIONS):
                    if not self.closed:
                        self._play(out, now)
                else:
                    self._deliver(out, now)
        if self.tool_calls is not None:
            self._drain_tools(self.tool_calls)

    def _drain_tools(self, tool_calls: ToolCalls) -> None:
        for out in tool_calls.outputs():
            if isinstance(out, ConversationItemCreate | ResponseCreate):
                if not self.closed:
                    self._effects.append(SendEvent(out))
            elif isinstance(out, RunTool | CancelTool):
                if not self.closed:
                    self._effects.append(out)
            else:
                self._emit(out)

    def _play(self, action: AudioAction, now: float) -> None:
        match action:
            case PlayAudio(pcm=pcm):
                self._playback.write(bytes_to_int16(pcm))
            case StopPlayback():
                # clear() returns the final played count: the truncate is computed from it.
                self.session.playback_stopped(now, self._playback.clear())
            case PausePlayback():
                # The pause's count is the heard cursor a later truncate starts from.
                self.session.playback_progress(self._playback.pause(), now)
            case ResumePlayback():
                self._playback.resume()
            case DuckPlayback(gain=gain, ramp_ms=ramp_ms):
                self.output.set_gain(gain, ramp_ms)
            case EndOfAudio():
                self._playback.mark_end()

    def _deliver(self, event: ConversationEvent, now: float) -> None:
        if isinstance(event, Interrupted):
            self.interruptions.append(event)
        elif (isinstance(event, InterruptionDecided) and event.verdict == "interruption"
                and self.detector is not None):
            # The user's turn, judged, is over once they are silent: its answer, which can
            # start a moment later, must not be taken for a reply begun over a user still
            # talking (the mid-turn stop in server_frame), and what they say next is a new
            # onset. Not after a backchannel or a noise: no answer follows those, and the
            # re-arm's silence is soon reached while the reply plays on.
            self.detector.speech_judged()
        if self.tool_calls is not None and (
                isinstance(event, UserSpeechStarted)
                or (isinstance(event, StateChanged) and event.new is State.CANCELLING)):
            # The user talks (a barge-in, or a turn begun while the assistant was quiet).
            self.tool_calls.user_spoke(now)
        out, verdicts = self.echo_control.screen(event)
        if isinstance(out, EchoTranscriptDropped):
            self.session.echo_item(out.item_id, now)
        elif isinstance(out, UserTranscript):
            # Words the echo filters kept: what a pending interruption decision waits for.
            onset = self.session.decision_onset
            self.session.user_words(
                out.item_id, out.text, now,
                assistant_said=self.echo_control.assistant_said(out.text, now),
                echo_of_playback=(onset is not None and self.echo_control.assistant_said(
                    out.text, now, since=onset)))
        self._record(out, now, verdicts)
        self._emit(out)

    def _record(self, event: AppEvent, now: float,
                verdicts: tuple[TranscriptVerdict, ...] = ()) -> None:
        """Write ``event`` to the transcript store, if there is one and the event is kept
        there; a failed write is an error event, and the conversation goes on."""
        if self.recorder is not None:
            try:
                self.recorder.record(event, verdicts=verdicts)
            except TranscriptStoreError as exc:
                self._error(f"transcript store: {exc}", now)

    def _emit(self, event: AppEvent) -> None:
        self._effects.append(Emit(event))

    def _error(self, message: str, now: float, *, fatal: bool = False) -> None:
        """An error of the conversation's own (not the server's ``error`` event)."""
        self._emit(ErrorOccurred(message=message, error=None, benign=False, fatal=fatal, at=now))


def _orphan_output(effect: Effect, context: ConversationContext) -> bool:
    """Whether ``effect`` sends the output of a call its session does not have."""
    if not isinstance(effect, SendEvent) or not isinstance(effect.event, ConversationItemCreate):
        return False
    item = effect.event.item
    return item.get("type") == "function_call_output" \
        and not context.knows_call(str(item.get("call_id")))


def _declaring(config: SessionConfig | None, tool_calls: ToolCalls) -> SessionConfig:
    """``config`` with the tools declared in it (``tool_choice`` "auto" unless it says)."""
    config = config if config is not None else SessionConfig()
    if "tools" in config.extra:
        raise ConfigurationError("tools are declared twice: pass them as tools=[...] (which "
                                 "runs them) or in SessionConfig(extra={'tools': ...}) (which "
                                 "leaves the calls to you), not both", argument="tools")
    extra = {"tools": tool_calls.definitions(), "tool_choice": "auto", **config.extra}
    return attrs.evolve(config, extra=extra)


def _transcribing(config: SessionConfig | None, echo: EchoDefences) -> SessionConfig:
    """``config`` asking for input transcription (:data:`DEFAULT_TRANSCRIPTION_MODEL`) when it
    leaves ``transcription_model`` unset.

    The service transcribes the user only when asked (its default is off), and a
    conversation leans on those transcripts: the :class:`~realtalk.UserTranscript` events, the
    transcript echo filters, the judging of an interruption as real or false, and a
    transcript store. An app that sets a model gets that one; one that sets ``False`` gets
    none, and the transcript filters then have nothing to judge (logged as a warning).
    """
    config = config if config is not None else SessionConfig()
    if config.transcription_model is None:
        return attrs.evolve(config, transcription_model=DEFAULT_TRANSCRIPTION_MODEL)
    if config.transcription_model is False and echo.transcript_filters is not None:
        logger.warning("input transcription is off (transcription_model=False): the "
                       "transcript echo filters will see no user transcript")
    return config


def _stages(echo: EchoFilter | None) -> list[EchoFilter]:
    """The stages of an echo filter (a chain's, or the filter itself)."""
    if echo is None:
        return []
    if isinstance(echo, EchoFilterChain):
        return list(echo.filters)
    return [echo]
