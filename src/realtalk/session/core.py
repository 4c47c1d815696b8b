"""The sans-I/O session core: protocol events and timestamps in, actions and events out.

It never touches sockets, tasks, clocks or devices. The I/O layer (``Conversation``, the
simulator, a test) feeds it:

- :meth:`ClientSession.receive` -- each parsed server event;
- :meth:`ClientSession.playback_progress` -- the output's cumulative count of samples played;
- :meth:`ClientSession.user_speech` -- a confirmed speech onset from a local detector (or the app);
- :meth:`ClientSession.speech_probable` -- the detector's unconfirmed "speech may be
  starting", which ducks playback (the graded response) and restores it if it was not speech;
- :meth:`ClientSession.short_speech` -- a run of speech too short to confirm, checked by its
  words while the reply plays on;
- :meth:`ClientSession.audio_sent` -- each microphone frame appended upstream, with its
  capture time, so that server VAD offsets map back to the caller's clock;
- :meth:`ClientSession.event_sent` / :meth:`ClientSession.playback_stopped` -- when an
  action really took effect, for the latency marks;
- :meth:`ClientSession.tick` -- at :meth:`ClientSession.next_deadline`.

After each call it drains :meth:`ClientSession.outputs`: :class:`SendEvent` and the audio actions
(:class:`PlayAudio`, :class:`StopPlayback`, :class:`DuckPlayback`, :class:`EndOfAudio`) to
perform *in order*, and conversation events for the app. Every ``now`` is the caller's
monotonic clock, in seconds.

Barge-in, in one step (the design's rule): stop playback and clear its queue; send
``response.cancel`` only if that response is still active upstream; send
``conversation.item.truncate`` for the playing item with the milliseconds actually heard,
clamped to the audio received, and no truncate when playback had already finished. Deltas of
a cancelled response that arrive late are dropped. ``cancelling`` ends on the cancelled
response's ``response.done`` or after ``cancel_timeout`` seconds. The truncate waits for the
output's final played count (:meth:`ClientSession.playback_stopped`) and is followed by a system
note telling the model it was interrupted. An interruption that no user words follow is judged
false, and the model is asked to resume.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math

import attrs

from .._args import check_type
from ..session_config import PCM_SAMPLE_RATE, SessionConfig, TurnDetection, WireShape
from ..wire import (
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemTruncate,
    ConversationItemTruncated,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    ResponseCancel,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ServerError,
    ServerEvent,
    SessionCreated,
    SessionUpdate,
)
from .barge_in import BargeIn, ShortSpeech
from .decision import Evidence, LexiconClassifier, Verdict
from .latency import DetectionSource, InterruptionLatency
from .outputs import (
    AssistantTranscript,
    AssistantTranscriptDelta,
    Backchannel,
    DuckPlayback,
    EndOfAudio,
    ErrorOccurred,
    FalseInterruption,
    Interrupted,
    InterruptionDecided,
    OtherServerEvent,
    Output,
    PausePlayback,
    PlayAudio,
    PlaybackPosition,
    ResponseAudioStarted,
    ResponseFinished,
    ResponseStarted,
    ResumePlayback,
    SendEvent,
    StateChanged,
    StopPlayback,
    Truncated,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)
from .playback import ItemKey, PlaybackTracker
from .state import Handling, Input, State, StateMachine, Trigger

__all__ = ("INTERRUPTION_NOTE", "RESUME_NOTE", "ClientSession", "ClientStats")

logger = logging.getLogger("realtalk.session")

# Error codes that are races, not failures: the response ended before our cancel arrived, or
# our truncate point was past the end of the item. Both leave nothing to fix.
_CANCEL_NOT_ACTIVE = "response_cancel_not_active"
_TRUNCATE_OVERSHOOT = "already shorter than"
_ALREADY_ACTIVE = "conversation_already_has_active_response"
_COMMIT_EMPTY = "input_audio_buffer_commit_empty"
# How far back the local detector's probable speech corroborates a server speech_started: the
# server reports speech a few hundred ms after it began (its VAD plus the network).
_SERVER_VAD_CORROBORATION_S = 0.6

#: The system note that asks the model to carry on after a false interruption.
RESUME_NOTE = (
    "That interruption was only noise; the user did not say anything. Continue your previous "
    "reply from where it was cut off, without repeating what was already said."
)

#: The system note added after a truncated item (see ``ClientSession(interruption_note=...)``).
INTERRUPTION_NOTE = (
    "The user interrupted your previous reply; they heard it only up to where it was cut "
    "off. Do not assume they heard the rest: answer what they say next, and repeat anything "
    "important they missed."
)

# How many ended/cancelled response ids to remember, to drop their late deltas.
_REMEMBERED_RESPONSES = 32
# Input frames to remember for mapping server VAD offsets back to capture time (~40 s at 20 ms).
_REMEMBERED_FRAMES = 2000
# Server VAD turns whose capture times are kept until their transcript arrives.
_REMEMBERED_UTTERANCES = 32
# A response created this soon after a user item was committed is the server's reply to it
# (turn detection's create_response); one created later was asked for by the app.
_REPLY_WITHIN_S = 1.0
# The silence that ends a user's turn when the session's turn detection does not say: the
# hosted service's server VAD default (silence_duration_ms).
_TURN_END_MS = 500.0


@attrs.define
class ClientStats:
    """Counters for tests, benchmarks and dashboards."""

    server_events: int = 0
    audio_deltas: int = 0
    late_deltas_dropped: int = 0
    late_audio_ms_dropped: float = 0.0
    interruptions: int = 0
    cancels_sent: int = 0
    truncates_sent: int = 0
    benign_errors: int = 0
    false_interruptions: int = 0
    ducks_restored: int = 0
    restored_duck_s: float = 0.0
    """How long the playback stayed ducked under the ducks later restored (``ducks_restored``):
    the dips heard for nothing, when nobody spoke."""
    server_vad_ignored: int = 0
    echo_items_deleted: int = 0
    echo_replies_cancelled: int = 0
    yields: int = 0
    checks: int = 0
    backchannels: int = 0
    resumed: int = 0


@attrs.define
class _Response:
    id: str
    done: bool = False
    had_audio: bool = False
    answers: str | None = None  # the user item it replies to (committed just before it)
    transcripts: dict[ItemKey, list[str]] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class _PendingInterruption:
    response_id: str | None
    item_id: str | None
    source: DetectionSource
    cancel_event_id: str | None
    onset: float | None
    detected: float
    ducked: float | None = None
    heard_ms: float = 0.0
    received_ms: float = 0.0
    truncate_ms: int | None = None
    truncate_event_id: str | None = None
    playback_stopped: float | None = None
    cancel_sent: float | None = None
    truncate_sent: float | None = None
    decided: bool = False  # by the interruption decision: real, never judged false

    def finish(self, *, acknowledged: float | None, timed_out: bool) -> Interrupted:
        return Interrupted(
            response_id=self.response_id,
            item_id=self.item_id,
            source=self.source,
            heard_ms=self.heard_ms,
            received_ms=self.received_ms,
            truncate_ms=self.truncate_ms,
            cancel_sent=self.cancel_event_id is not None,
            timed_out=timed_out,
            latency=InterruptionLatency(
                onset=self.onset,
                detected=self.detected,
                ducked=self.ducked,
                playback_stopped=self.playback_stopped,
                cancel_sent=self.cancel_sent,
                truncate_sent=self.truncate_sent,
                acknowledged=acknowledged,
            ),
        )


@attrs.define(kw_only=True)
class _Yield:
    """The assistant has yielded to the user's speech; the decision is pending. Unpaused, it
    is the check of a short run of speech (``BargeIn.check_speech_ms``): the reply plays on
    until the words decide, and speech confirmed meanwhile pauses it."""

    onset: float | None
    yielded: float
    ducked: float | None
    paused: bool = True
    speech_ms: float = 0.0
    silent_ms: float = 0.0
    speaking: bool = True
    transcript: str | None = None
    server_heard: bool = False
    # Our latest commit for words (see ClientSession._commit_for_words): its event id (a
    # refusal names it), whether the server has yet to acknowledge it, and whether the server
    # has acknowledged any of ours.
    commit_id: str | None = None
    commit_in_flight: bool = False
    own_committed: bool = False
    # How much of speech_ms a commit (ours or the server's) has taken: what follows is
    # speech whose words no commit will bring.
    committed_ms: float = 0.0
    items: list[str] = attrs.field(factory=list)  # user items committed while it is pending
    transcribed: set[str] = attrs.field(factory=set)  # those whose words came

    @property
    def words_due(self) -> bool:
        """Whether a commit's words have yet to come (ours in flight, or a committed item's)."""
        return self.commit_in_flight or any(i not in self.transcribed for i in self.items)

    def evidence(self, now: float, *, transcribes: bool) -> Evidence:
        """What is known now; ``transcribes``: whether a committed item's words will come."""
        committed = self.own_committed or self.commit_in_flight
        return Evidence(speech_ms=self.speech_ms, silent_ms=self.silent_ms,
                        speaking=self.speaking, since_yield_ms=(now - self.yielded) * 1000.0,
                        transcript=self.transcript, server_heard=self.server_heard,
                        committed=committed, awaiting_words=transcribes and self.words_due,
                        uncommitted_ms=self.speech_ms - self.committed_ms,
                        confirmed=self.paused)

    def committed_by_server(self, item_id: str) -> None:
        """A user item the server committed while the decision is pending: ours, or the
        server VAD's, which takes the speech heard so far."""
        self.items.append(item_id)
        if self.commit_in_flight:
            self.commit_in_flight = False
            self.own_committed = True
        else:
            self.committed_ms = self.speech_ms


@attrs.define(kw_only=True)
class _AnswerHold:
    """An interruption was decided: its answer waits for the end of the user's turn (the
    decision can come in a pause: "wait," of "wait, stop there please")."""

    since: float
    silent_ms: float


class ClientSession:
    """The conversation's protocol logic, without I/O.

    Args:
        config: the session configuration sent in ``session.update`` when opened.
        barge_in: the barge-in settings (:class:`~realtalk.BargeIn`, where each is
            documented); the session follows ``use_server_vad``, ``notify_model``,
            ``false_interruption_s``, ``resume_after_false``, ``min_words``,
            ``duck_gain_db``, ``duck_ramp_ms`` and the decision's (``decide`` and after).
            ``None`` means no local detector: the server's VAD is then the barge-in, it stops
            the assistant at once (no frames to decide on), and the rest keep ``BargeIn()``'s
            defaults.
            With settings, a ``config`` that leaves turn detection unset gets server VAD with
            ``interrupt_response`` off: the server still ends turns and starts replies, but
            only the client (which can tell the user from the echo) stops the assistant.
        wire_shape: ``"ga"`` or ``"beta"`` (Azure's preview endpoint) for that update.
        sample_rate: the output sample rate (the protocol's 24 kHz).
        cancel_timeout: seconds to wait in ``cancelling`` for upstream to confirm.
        progress_interval: seconds between :class:`PlaybackPosition` events while speaking
            (``None``: none).
        interruption_note: the text of the system message added right after a truncated
            item (when ``BargeIn.notify_model``), so the model knows it was interrupted.

    Raises:
        ConfigurationError: ``barge_in`` is not a :class:`~realtalk.BargeIn` or ``None``, or
            ``interruption_note`` is not a string.
    """

    def __init__(
        self,
        config: SessionConfig | None = None,
        *,
        barge_in: BargeIn | None = None,
        wire_shape: WireShape = "ga",
        sample_rate: int = PCM_SAMPLE_RATE,
        cancel_timeout: float = 2.0,
        progress_interval: float | None = 0.1,
        interruption_note: str = INTERRUPTION_NOTE,
    ) -> None:
        check_type("barge_in", barge_in, (BargeIn, type(None)), "a realtalk.BargeIn or None")
        check_type("interruption_note", interruption_note, str,
                   "a string, the note's text (BargeIn(notify_model=False) turns the note off)")
        config = config if config is not None else SessionConfig()
        if barge_in is not None and config.turn_detection is None:
            # The client decides interruptions (it knows what was played and what is
            # echo); the server's own VAD still ends the user's turns and starts replies.
            config = attrs.evolve(config, turn_detection=TurnDetection(interrupt_response=False))
        self.owns_turns = (barge_in is not None and barge_in.decide
                           and isinstance(config.turn_detection, TurnDetection))
        """Whether the session asks for replies itself (``BargeIn(decide=True)`` with server
        turn detection): the server ends the user's turns, but a turn that was only a
        backchannel must not be answered, and only the decision knows which it was."""
        if self.owns_turns:
            assert isinstance(config.turn_detection, TurnDetection)
            config = attrs.evolve(config, turn_detection=attrs.evolve(
                config.turn_detection, create_response=False, interrupt_response=False))
        # No local detector, no frames to decide on: speech stops the assistant at once.
        self.barge_in = barge_in if barge_in is not None else BargeIn(decide=False)
        """The barge-in settings the session follows."""
        self.server_vad_barge_in = barge_in is None or barge_in.use_server_vad
        """Whether the server's ``speech_started`` may stop the assistant (the slow path, and
        the fallback when no local detector runs)."""
        self._ducked_at: float | None = None
        self._yield: _Yield | None = None
        self.classifier = (self.barge_in.classifier if self.barge_in.classifier is not None
                           else LexiconClassifier())
        """The judge of the interruption decision (``BargeIn(decide=True)``)."""
        self._local_detector = False  # set once a local detector reports (speech_probable)
        self._local_heard_at: float | None = None
        self.interruption_note = interruption_note
        self._judging: _PendingInterruption | None = None
        self._judge_deadline: float | None = None
        # The judgement a user transcript ended, kept until the transcript filters have had
        # their say: a transcript that was echo says nothing about the user.
        self._judged_by: tuple[str, _PendingInterruption, float | None] | None = None
        self.progress_interval = progress_interval
        self._progress_deadline: float | None = None
        self.config = config
        self.wire_shape: WireShape = wire_shape
        self.sample_rate = sample_rate
        self.cancel_timeout = cancel_timeout
        self.stats = ClientStats()
        self.tracker = PlaybackTracker(sample_rate)
        self._machine = StateMachine()
        self._out: list[Output] = []
        self._ids = itertools.count(1)
        self._responses: dict[str, _Response] = {}
        self._ended: collections.OrderedDict[str, bool] = collections.OrderedDict()
        self._cancelled: set[str] = set()
        self._playing_response: str | None = None
        self._pending: _PendingInterruption | None = None
        self._stop_pending: tuple[ItemKey | None, bool] | None = None
        self._cancel_deadline: float | None = None
        self._drain_deadline: float | None = None
        self._turn_ended_at: float | None = None
        self._last_committed: tuple[str, float] | None = None  # (item id, when)
        # Owned turns (owns_turns): user items committed while the assistant talked, to be
        # answered once it is quiet (unless they turn out to be echo).
        self._unanswered: list[str] = []
        self._answer_hold: _AnswerHold | None = None
        self._server_speaking = False  # the server's VAD has a turn open (started, not stopped)
        # The server's VAD ended a turn (speech_stopped) and its commit has not come yet: the
        # two are separate events, and time can pass between them.
        self._server_commit_due = False
        # When we committed the user's speech while the server's VAD had its turn open: a
        # service that keeps that turn open commits what follows our commit once its VAD
        # hears the silence (see _leftover_commit).
        self._open_turn_committed_at: float | None = None
        # A decision took the speech of a server turn that the server has yet to commit: the
        # time after which speech heard is new. That commit, when it comes, holds only speech
        # already decided unless the user spoke after it (see _leftover_commit).
        self._decided_turn_at: float | None = None
        self._echo_items: collections.deque[str] = collections.deque(maxlen=16)
        self._deleted: collections.deque[str] = collections.deque(maxlen=32)  # user items
        # Capture times [start, end] of the server VAD's turns, by input item: a transcript
        # arrives later and is told when its audio was captured.
        self._utterances: collections.OrderedDict[str, list[float | None]] = (
            collections.OrderedDict())
        self._input_samples = 0
        self._input_frames: collections.deque[tuple[int, int, float]] = collections.deque(
            maxlen=_REMEMBERED_FRAMES
        )
        self._server_session: SessionCreated | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The current state."""
        return self._machine.state

    @property
    def server_session(self) -> SessionCreated | None:
        """The server's ``session.created`` event, once received."""
        return self._server_session

    def outputs(self) -> list[Output]:
        """Drain the actions and events produced so far, in order."""
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        """The earliest ``now`` at which :meth:`tick` has work to do, if any."""
        yield_deadline = (self._yield.yielded + self.barge_in.max_yield_ms / 1000.0
                          if self._yield is not None else None)
        deadlines = [d for d in (self._cancel_deadline, self._drain_deadline,
                                 self._progress_deadline, self._judge_deadline,
                                 yield_deadline) if d is not None]
        return min(deadlines) if deadlines else None

    def _handling(self, input_: Input) -> Trigger | Handling:
        """What the state machine's input table says to do with ``input_`` now (raises if
        the input is refused in this state)."""
        return self._machine.handling(input_)

    def _fire(self, trigger: Trigger, now: float) -> None:
        old = self._machine.state
        new = self._machine.fire(trigger)
        if new is not old:
            self._out.append(StateChanged(old=old, new=new, at=now))
            if new is State.LISTENING and self.owns_turns:
                self._answer_turns()  # the assistant is quiet: the user's turn is answered

    def _next_id(self, kind: str) -> str:
        return f"rt_{kind}_{next(self._ids)}"

    def _send(self, event: ClientEvent) -> None:
        self._out.append(SendEvent(event))

    # -- inputs from the I/O layer -------------------------------------------------------------

    def open(self, now: float) -> None:
        """The transport is connected: go to ``listening`` and configure the session.

        Raises:
            LocalProtocolError: the session is already open.
        """
        handling = self._handling(Input.OPEN)
        if not isinstance(handling, Trigger):
            return
        self._fire(handling, now)
        self._send(SessionUpdate(session=self.config, shape=self.wire_shape,
                                 event_id=self._next_id("session")))

    def close(self, now: float) -> None:
        """The conversation ended: go to ``idle`` (a no-op when already idle)."""
        handling = self._handling(Input.CLOSE)
        if not isinstance(handling, Trigger):
            return
        self._settle_stop(now, None)
        if self._pending is not None:
            self._out.append(self._pending.finish(acknowledged=None, timed_out=True))
            self._pending = None
        self._yield = None
        self._cancel_deadline = self._drain_deadline = None
        self._fire(handling, now)

    def audio_sent(self, n_samples: int, captured_at: float) -> None:
        """A microphone frame of ``n_samples`` (captured starting at ``captured_at``) went
        upstream. Lets server VAD offsets (``audio_start_ms``) map back to capture time."""
        self._input_frames.append((self._input_samples, n_samples, captured_at))
        self._input_samples += n_samples

    def _utterance(self, item_id: str) -> list[float | None]:
        span = self._utterances.get(item_id)
        if span is None:
            span = self._utterances[item_id] = [None, None]
            while len(self._utterances) > _REMEMBERED_UTTERANCES:
                self._utterances.popitem(last=False)  # turns that were never transcribed
        return span

    def input_time(self, audio_ms: int) -> float | None:
        """Capture time of the input audio at ``audio_ms`` into the session's input buffer."""
        sample = audio_ms * self.sample_rate // 1000
        for start, n, captured_at in reversed(self._input_frames):
            if start <= sample:
                return captured_at + (sample - start) / self.sample_rate if sample < start + n \
                    else captured_at + n / self.sample_rate
        return None

    def playback_progress(self, played_samples: int, now: float) -> None:
        """The output has played ``played_samples`` in total (its own cumulative count)."""
        self._settle_stop(now, None)
        self.tracker.update(played_samples)
        self._report_position(now)
        self._check_drained(now)

    def _report_position(self, now: float) -> None:
        if (self._handling(Input.PLAYBACK_PROGRESS) is not Handling.REPORT
                or self.progress_interval is None):
            self._progress_deadline = None
            return
        if self._progress_deadline is not None and now < self._progress_deadline:
            return
        self._progress_deadline = now + self.progress_interval
        key = self.tracker.playing()
        if key is not None:
            self._out.append(PlaybackPosition(
                item_id=key[0], content_index=key[1], heard_ms=self.tracker.heard_ms(key),
                received_ms=self.tracker.received_ms(key), at=now))

    def playback_stopped(self, now: float, played_samples: int | None = None) -> None:
        """The :class:`StopPlayback` action was performed at ``now``.

        ``played_samples`` is what the output's ``clear()`` returned: its cumulative count of
        samples that will have left the speaker once it is silent (a device still plays what
        it had handed to its driver). The truncate, which follows the cancel, is computed from
        it, so the model keeps exactly what the user heard. Without it (or without this call),
        the last position reported by :meth:`playback_progress` is used.
        """
        if self._pending is not None and self._pending.playback_stopped is None:
            self._pending.playback_stopped = now
        self._settle_stop(now, played_samples)

    def event_sent(self, event: ClientEvent, now: float) -> None:
        """``event`` (from a :class:`SendEvent` action) was written to the transport at ``now``."""
        pending = self._pending
        if pending is None or event.event_id is None:
            return
        if event.event_id == pending.cancel_event_id:
            pending.cancel_sent = now
        elif event.event_id == pending.truncate_event_id:
            pending.truncate_sent = now

    def user_speech(self, now: float, *, onset: float | None = None,
                    source: DetectionSource = "local", mid_turn: bool = False) -> None:
        """The user is talking (onset confirmed by a detector, or the app asked to interrupt).

        While the assistant speaks this is a barge-in; otherwise it is only reported.
        ``mid_turn``: the user was already talking when the assistant started, so the
        assistant spoke over them, not they over it: no backchannel to decide, it stops at once.
        """
        self._user_speech(self._handling(Input.USER_SPEECH), now, onset=onset, source=source,
                          decide=self.barge_in.decide and not mid_turn)

    def _user_speech(self, handling: Trigger | Handling, now: float, *, onset: float | None,
                     source: DetectionSource, decide: bool = False) -> None:
        if isinstance(handling, Trigger):
            if source == "local" and decide:
                if self._yield is None:
                    self._start_yield(now, onset)
                elif not self._yield.paused:
                    self._pause(self._yield, now)  # confirmed speech during a check
                return  # already yielded: the decision is under way
            self._barge_in(handling, now, onset=onset, source=source)
        elif handling is Handling.REPORT:
            self._out.append(UserSpeechStarted(source=source, at=now))

    # -- the interruption decision (BargeIn(decide=True), see realtalk.session.decision) ------

    @property
    def yielded(self) -> bool:
        """Whether the assistant has yielded to the user and the decision is pending."""
        return self._yield is not None

    @property
    def decision_onset(self) -> float | None:
        """The onset of the speech a pending decision is on (``None``: none pending, or the
        onset is unknown)."""
        return self._yield.onset if self._yield is not None else None

    def _start_yield(self, now: float, onset: float | None) -> None:
        # The speech that confirmed the onset counts: the evidence starts at the onset.
        heard_ms = (now - onset) * 1000.0 if onset is not None and onset <= now else 0.0
        self._pause(self._open_decision(now, onset, speech_ms=heard_ms), now)

    def _open_decision(self, now: float, onset: float | None, *, speech_ms: float,
                       silent_ms: float = 0.0, speaking: bool = True) -> _Yield:
        """The pending decision on speech heard since ``onset``, not paused yet."""
        self._settle_stop(now, None)
        # A turn the server's VAD has open is this speech: its commit and words will come.
        self._yield = _Yield(onset=onset, yielded=now, ducked=self._ducked_at,
                             speech_ms=speech_ms, silent_ms=silent_ms, speaking=speaking,
                             server_heard=self._server_speaking, paused=False)
        return self._yield

    def _pause(self, pending: _Yield, now: float) -> None:
        """Yield for real: pause playback (a check becomes a decision on confirmed speech)."""
        self.stats.yields += 1
        # Pause first, as a stop would: the user must hear the assistant give way at once.
        self._out.append(PausePlayback())
        pending.paused = True
        pending.yielded = now
        pending.ducked = self._ducked_at
        self._ducked_at = None  # the resume restores the gain; a withdrawn duck must not
        self._drain_deadline = None

    def short_speech(self, now: float, speech: ShortSpeech) -> None:
        """A run of speech ended unconfirmed, long and voiced enough to be a short word
        (``BargeIn.check_speech_ms``): while the assistant speaks, its words decide, as for
        a yield, but the reply plays on meanwhile (a noise must not pause it). Only
        where the words will come: a deciding session that commits for them and asks for
        transcription."""
        if (self._yield is not None or not self.barge_in.decide
                or not self._commits_for_words
                or not isinstance(self._handling(Input.USER_SPEECH), Trigger)):
            return
        self.stats.checks += 1
        self._open_decision(now, speech.onset, speech_ms=speech.speech_ms,
                            silent_ms=speech.silent_ms, speaking=False)

    def user_heard(self, now: float, heard: bool, frame_ms: float) -> None:
        """The local detector's decision on one more frame (``heard``: the user). While the
        assistant has yielded this is evidence for the decision; otherwise it is ignored."""
        pending = self._yield
        if pending is None:
            self._hold_answer(now, heard, frame_ms)
            return
        pending.speaking = heard
        if heard:
            pending.speech_ms += frame_ms
            pending.silent_ms = 0.0
        else:
            pending.silent_ms += frame_ms
            self._commit_for_words(pending, now)
        self._decide(now)

    def _commit_for_words(self, pending: _Yield, now: float) -> None:
        """Commit the user's speech ourselves once they have been silent
        ``commit_after_silence_ms``, so that its words are transcribed and decide. Whether or
        not the server's VAD heard it: a short "yeah" or "stop" under the assistant's voice
        is often too brief or too quiet after echo cancellation for the server's VAD, and
        when it did hear it, its commit comes only after its own silence window (500 ms by
        default), which the paused reply would wait out. The hosted service allows a commit
        in server VAD mode: it creates the user item from the buffer and transcribes it, and
        starts no reply. What its VAD then does with a turn it had open is not documented;
        :meth:`_leftover_commit` handles a later commit of that turn."""
        after = self.barge_in.commit_after_silence_ms
        # Again after an earlier commit only for new speech, as long as an onset ("yeah",
        # a pause, "but the price?"): its words decide with the first ones.
        new_ms = pending.speech_ms - pending.committed_ms
        if (not self._commits_for_words or after is None or pending.silent_ms < after
                or pending.commit_in_flight or new_ms <= 0.0
                or (pending.committed_ms > 0.0 and new_ms < self.barge_in.min_speech_ms)):
            return
        pending.commit_id = self._next_id("words")
        pending.commit_in_flight = True
        pending.committed_ms = pending.speech_ms
        self._send(InputAudioBufferCommit(event_id=pending.commit_id))
        if self._server_speaking:
            # Our commit took that turn's audio.
            self._server_speaking = False
            self._open_turn_committed_at = now

    @property
    def _commits_for_words(self) -> bool:
        """Whether the session commits speech it has yielded to for its words (see
        :meth:`_commit_for_words`), and words will come of it."""
        return (self.barge_in.commit_after_silence_ms is not None and self.owns_turns
                and self.config.transcribes)

    def user_words(self, item_id: str, text: str, now: float, *,
                   assistant_said: bool = False, echo_of_playback: bool = False) -> None:
        """The transcript of the user item ``item_id`` (after the echo filters kept it).
        While the assistant has yielded, the words of an item committed since are what the
        decision waits for (a late transcript of an earlier turn says nothing about this
        speech). The engine's judgements
        (:meth:`realtalk.echo.control.EchoControl.assistant_said`): ``assistant_said``, every
        word is one the assistant has just played; ``echo_of_playback``, every word is one it
        played from shortly before the pending decision's onset (:attr:`decision_onset`) on."""
        pending = self._yield
        if pending is None or item_id not in pending.items:
            return
        echo = echo_of_playback if pending.paused else assistant_said
        if echo:
            # The assistant's own voice transcribed back: the transcript filters keep one- and
            # two-word transcripts when the detector took their audio for the user (they could
            # be the user's "yes"). A check's word or two the assistant has just said: a
            # command the reply said ("a quiet workshop") stopped it. A yield's, only words
            # played over the speech itself: a user repeating the assistant quotes what was
            # said before they began, but the echo of babble over the reply brought words
            # the reply was playing then ("busy town") and stopped it.
            text = ""
        pending.transcribed.add(item_id)
        pending.transcript = text if pending.transcript is None else f"{pending.transcript} {text}"
        self._decide(now)

    def _decide(self, now: float) -> None:
        pending = self._yield
        if pending is None:
            return
        evidence = pending.evidence(now, transcribes=self.config.transcribes)
        verdict: Verdict | None = self.classifier.decide(evidence)
        if verdict is None and evidence.since_yield_ms >= self.barge_in.max_yield_ms:
            # Confirmed speech with no verdict is the user's; an unconfirmed blip is not.
            verdict = "interruption" if pending.paused else "noise"
        if verdict is None:
            return
        self._yield = None
        self._out.append(InterruptionDecided(verdict=verdict, evidence=evidence,
                                             onset=pending.onset, yielded=pending.yielded,
                                             decided=now))
        # A commit of this speech still to come holds nothing the verdict has not taken:
        # what we committed ourselves (any verdict), or a backchannel or noise the server's
        # VAD has yet to commit. An interruption the server has yet to commit is the turn
        # itself, answered when it comes.
        if self._open_turn_committed_at is not None:
            self._decided_turn_at = self._open_turn_committed_at
        elif verdict != "interruption" and self._server_speaking:
            self._decided_turn_at = now
        self._open_turn_committed_at = None
        if verdict == "interruption":
            # The turn is the user's: answered once the cancel is through and the user's
            # turn is over (see _answer_turns).
            self._unanswered.extend(pending.items)
            self._answer_hold = _AnswerHold(since=now, silent_ms=pending.silent_ms)
            handling = self._handling(Input.USER_SPEECH)
            if isinstance(handling, Trigger):
                self._barge_in(handling, now, onset=pending.onset, source="local",
                               yielded=pending)
                return
            self._answer_turns()
        else:
            # Not a turn: the server's commit of it (made, or still to come) is deleted, so
            # the model neither answers nor remembers it; its reply goes on as if unbroken.
            for item_id in pending.items:
                self._forget_turn(item_id)
        if verdict == "backchannel":
            self.stats.backchannels += 1
            self._out.append(Backchannel(transcript=pending.transcript,
                                         speech_ms=pending.speech_ms, at=now))
        if not pending.paused:
            return  # a check: the reply played on
        # Play on from the paused sample (also after an interruption with nothing left to
        # cancel), at full volume: the pause cleared the output, and with it the duck.
        self.stats.resumed += 1
        self._out.append(ResumePlayback())
        self._check_drained(now)

    def _user_turn(self, item_id: str, now: float) -> None:
        """The server committed the user's audio as ``item_id`` (owned turns, no decision
        pending): forget it if it holds only speech a decision already took, else answer it
        now if the assistant is quiet, or once it is."""
        if self._leftover_commit():
            self._forget_turn(item_id)
        else:
            self._unanswered.append(item_id)
            self._answer_turns()

    def _leftover_commit(self) -> bool:
        """Whether the server's commit that just came belongs to speech a decision already
        took (a backchannel or a noise its VAD heard, or a turn we committed ourselves while
        its VAD had it open): yes, unless the local detector heard the user again since (our
        commit, or the decision), which that turn of the server's VAD then holds too. Taken
        once; a new ``speech_started`` (a new turn) also forgets it."""
        leftover = self._decided_turn_at is not None and not self._spoke_after_decision
        self._decided_turn_at = None
        return leftover

    @property
    def _spoke_after_decision(self) -> bool:
        """Whether the local detector heard the user after the speech a decision took (see
        ``_decided_turn_at``): the server's commit of that turn, still due, holds new words."""
        return (self._decided_turn_at is not None and self._local_heard_at is not None
                and self._local_heard_at > self._decided_turn_at)

    def _forget_turn(self, item_id: str) -> None:
        self._delete_item(item_id, "turn")

    def _delete_item(self, item_id: str, why: str) -> bool:
        """Delete the user item ``item_id`` upstream, once: a turn the decision dismissed can
        also be echo the transcript filters dropped, and a second delete of it is an error
        from the server. Returns whether it was sent."""
        if item_id in self._deleted:
            return False
        self._deleted.append(item_id)
        self._send(ConversationItemDelete(item_id=item_id, event_id=self._next_id(why)))
        return True

    def _answer_turns(self) -> None:
        """Ask for the reply to the user's unanswered turns, if the assistant is quiet (a
        reply asked for while one plays would queue behind it, answering late) and the
        user's turn is over (:meth:`_hold_answer`)."""
        if (self._unanswered and self._machine.state is State.LISTENING
                and self._answer_hold is None):
            self._unanswered.clear()
            self._send(ResponseCreate(event_id=self._next_id("turn")))

    def _hold_answer(self, now: float, heard: bool | None = None, frame_ms: float = 0.0) -> None:
        """Follow the user after an interruption decided on their words (``heard``: the
        local detector's verdict on one more frame; ``None``: time passed). A decision on
        the words of a pause can come while the user is about to go on: answering then
        starts the reply over them, and their next words cut it. The answer waits until
        they have been silent as long as the server's turn detection takes to end a turn,
        and then for the server's commit of what they said after the pause, if its VAD
        has that turn open; ``BargeIn.max_yield_ms`` after the decision it goes out anyway."""
        hold = self._answer_hold
        if hold is None:
            return
        if heard is not None:
            hold.silent_ms = 0.0 if heard else hold.silent_ms + frame_ms
        timed_out = (now - hold.since) * 1000.0 >= self.barge_in.max_yield_ms
        # A commit still due of what the user said after our own commit, from a service
        # that kept its turn open past it (see _leftover_commit).
        if not timed_out and (hold.silent_ms < self._turn_end_ms or self._server_speaking
                              or self._server_commit_due or self._spoke_after_decision):
            return
        self._answer_hold = None
        self._answer_turns()

    @property
    def _turn_end_ms(self) -> float:
        turn = self.config.turn_detection
        if isinstance(turn, TurnDetection) and turn.silence_duration_ms is not None:
            return float(turn.silence_duration_ms)
        return _TURN_END_MS

    def speech_probable(self, now: float, probable: bool) -> None:
        """The local detector thinks speech may be starting (``True``), or that what it heard
        was not speech after all (``False``). While the assistant speaks, this ducks playback
        at once and restores it: the graded response, before any confirmation."""
        self._local_detector = True
        if probable:
            self._local_heard_at = now
        settings = self.barge_in
        if settings.duck_gain_db is None:
            return
        if probable:
            if self._ducked_at is None and self._handling(Input.SPEECH_PROBABLE) is Handling.ACT:
                self._ducked_at = now
                self._out.append(DuckPlayback(gain=10 ** (settings.duck_gain_db / 20),
                                              ramp_ms=settings.duck_ramp_ms))
        elif self._ducked_at is not None:
            # Forgotten in every state: a duck left over from before a close restores nothing.
            ducked_at, self._ducked_at = self._ducked_at, None
            if self._handling(Input.SPEECH_WITHDRAWN) is Handling.ACT:
                self.stats.ducks_restored += 1
                self.stats.restored_duck_s += now - ducked_at
                self._out.append(DuckPlayback(gain=1.0, ramp_ms=settings.duck_ramp_ms))

    def _server_vad_corroborated(self, now: float) -> bool:
        """Whether a server ``speech_started`` may stop the assistant: always without a local
        detector; with one, only if it heard probable speech within the server's delay."""
        if not self._local_detector:
            return True
        return (self._local_heard_at is not None
                and now - self._local_heard_at <= _SERVER_VAD_CORROBORATION_S)

    def echo_item(self, item_id: str, now: float) -> None:
        """The user item ``item_id`` was the assistant's own voice (the transcript echo
        filters said so): delete it upstream, so that the model neither answers it nor
        remembers it, and cancel the reply the server started for it if none of that reply
        has played yet. A reply already playing is left to finish: cutting the assistant off
        for no audible reason would be worse than its answer."""
        if self._delete_item(item_id, "echo"):
            self.stats.echo_items_deleted += 1
        judged_by = self._judged_by
        if judged_by is not None and judged_by[0] == item_id:
            self._judged_by = None
            _, judging, deadline = judged_by
            if self._judging is None and deadline is not None and now < deadline:
                # This item (its transcript, or the reply to it) had ended the
                # false-interruption judgement; it was the assistant's own words, not the
                # user's, so the judgement goes on.
                self._judging, self._judge_deadline = judging, deadline
        self._echo_items.append(item_id)  # its reply may not have been created yet
        if item_id in self._unanswered:
            self._unanswered.remove(item_id)  # echo is not a turn to answer
        self._cancel_echo_replies()
        pending = self._yield
        if pending is not None and item_id in pending.items:
            # The yielded speech's words will not come: they were the assistant's own. Left
            # waiting, the decision ran out max_yield_ms (4 s of silence) and then stopped
            # the reply as an interruption. With no other words on their way, the speech the
            # detector took for the user was echo: no words, noise.
            pending.transcribed.add(item_id)
            if pending.transcript is None and not (self.config.transcribes
                                                   and pending.words_due):
                pending.transcript = ""
            self._decide(now)

    def _cancel_echo_replies(self) -> None:
        for rid, response in self._responses.items():
            if response.answers in self._echo_items and not response.had_audio \
                    and rid not in self._cancelled:
                self._cancelled.add(rid)
                self._send(ResponseCancel(response_id=rid, event_id=self._next_id("echo")))
                self.stats.echo_replies_cancelled += 1
                logger.info("cancelled response %s: it answered the echo item %s", rid,
                            response.answers)

    def interrupt(self, now: float) -> bool:
        """Interrupt the assistant on the app's request. Returns whether it was speaking."""
        handling = self._handling(Input.INTERRUPT)
        if not isinstance(handling, Trigger):
            return False
        self._barge_in(handling, now, onset=None, source="manual")
        return True

    def tick(self, now: float) -> None:
        """Handle deadlines that have passed (cancel timeout, end of playback)."""
        self._settle_stop(now, None)
        self._decide(now)
        self._hold_answer(now)
        if self._judge_deadline is not None and now >= self._judge_deadline:
            self._judge_false(now)
        if self._cancel_deadline is not None and now >= self._cancel_deadline:
            self._cancel_deadline = None
            handling = self._handling(Input.CANCEL_TIMEOUT)
            if isinstance(handling, Trigger):
                logger.warning("upstream did not confirm the cancel within %.1f s",
                               self.cancel_timeout)
                self._finish_interruption(now, acknowledged=None, timed_out=True)
                self._fire(handling, now)
        self._check_drained(now)

    # -- server events -------------------------------------------------------------------------

    def receive(self, event: ServerEvent, now: float) -> None:
        """Process one server event."""
        self._settle_stop(now, None)
        self.stats.server_events += 1
        match event:
            case ResponseOutputAudioDelta():
                self._on_audio_delta(event, now)
            case ResponseOutputAudioTranscriptDelta():
                response = self._responses.get(event.response_id)
                if response is not None and event.response_id not in self._cancelled:
                    key = (event.item_id, event.content_index)
                    response.transcripts.setdefault(key, []).append(event.delta)
                    self._out.append(AssistantTranscriptDelta(
                        response_id=event.response_id, item_id=event.item_id, delta=event.delta))
            case ResponseOutputAudioTranscriptDone():
                self._on_transcript_done(event, now)
            case ResponseOutputAudioDone():
                if (event.response_id == self._playing_response
                        and event.response_id not in self._cancelled):
                    self._out.append(EndOfAudio())
            case ResponseCreated():
                committed, self._last_committed = self._last_committed, None
                answers = (committed[0] if committed is not None
                           and now - committed[1] <= _REPLY_WITHIN_S else None)
                # The conversation moved on: the user did say something.
                self._judged_real(answers)
                self._responses[event.response.id] = _Response(event.response.id,
                                                               answers=answers)
                self._cancel_echo_replies()
                self._out.append(ResponseStarted(response_id=event.response.id, at=now))
            case ResponseDone():
                self._on_response_done(event, now)
            case InputAudioBufferSpeechStarted():
                self._server_speaking = True
                # A new turn: an earlier one still to be committed is done with.
                self._decided_turn_at = self._open_turn_committed_at = None
                onset = self.input_time(event.audio_start_ms)
                self._utterance(event.item_id)[0] = onset
                if self._yield is not None:
                    # Evidence for the pending decision, not a barge-in of its own.
                    self._yield.server_heard = True
                    self._decide(now)
                    return
                handling = self._handling(Input.SERVER_SPEECH)
                if not isinstance(handling, Trigger) or (
                        self.server_vad_barge_in and self._server_vad_corroborated(now)):
                    self._user_speech(handling, now, onset=onset, source="server_vad")
                elif self.server_vad_barge_in:
                    # The server heard speech the local detector did not: with a detector
                    # that knows the echo, that is the assistant's own voice coming back.
                    self.stats.server_vad_ignored += 1
                    logger.info("server speech_started while the local detector heard no "
                                "user; taken for echo")
            case InputAudioBufferSpeechStopped():
                self._server_speaking = False
                self._server_commit_due = True
                ended = self.input_time(event.audio_end_ms)
                self._utterance(event.item_id)[1] = ended
                self._turn_ended_at = ended if ended is not None else now
                self._out.append(UserSpeechStopped(at=now))
            case InputAudioTranscriptionCompleted():
                if len(event.transcript.split()) >= self.barge_in.min_words:
                    self._judged_real(event.item_id)
                started, ended = self._utterances.pop(event.item_id, (None, None))
                self._out.append(UserTranscript(item_id=event.item_id, text=event.transcript,
                                                at=now, speech_started_at=started,
                                                speech_ended_at=ended))
            case InputAudioBufferCommitted():
                self._last_committed = (event.item_id, now)
                self._server_commit_due = False
                if self._yield is not None:
                    # This speech's turn: the pending decision answers or deletes it.
                    self._yield.committed_by_server(event.item_id)
                elif self.owns_turns:
                    self._user_turn(event.item_id, now)
            case ConversationItemTruncated():
                self._out.append(Truncated(item_id=event.item_id,
                                           audio_end_ms=event.audio_end_ms, at=now))
            case ServerError():
                self._on_error(event, now)
            case SessionCreated():
                self._server_session = event
            case _:
                # The rest (text deltas, content parts, rate limits, events newer than
                # realtalk) reach the app untouched.
                self._out.append(OtherServerEvent(event=event, at=now))

    def _on_audio_delta(self, event: ResponseOutputAudioDelta, now: float) -> None:
        self.stats.audio_deltas += 1
        rid = event.response_id
        n_samples = len(event.delta) // 2
        late = rid in self._cancelled or rid in self._ended
        handling = self._handling(Input.LATE_AUDIO_DELTA if late else Input.AUDIO_DELTA)
        if handling is Handling.IGNORE:
            # Not open (or already closed): a frame that raced the close. Nothing can play it.
            logger.debug("audio delta of %s while idle; dropped", rid)
            self.stats.late_deltas_dropped += 1
            return
        if not isinstance(handling, Trigger):
            # Audio the user must never hear: generated before the cancel reached the server.
            self.stats.late_deltas_dropped += 1
            self.stats.late_audio_ms_dropped += n_samples * 1000.0 / self.sample_rate
            if handling is Handling.REPORT:
                self._out.append(ErrorOccurred(
                    message=f"audio of response {rid!r} arrived while cancelling another "
                            "response; dropped", error=None, benign=False, fatal=False, at=now))
            return
        response = self._responses.get(rid)
        if response is None:
            # A server that skipped response.created: track the response from its audio.
            response = self._responses[rid] = _Response(rid)
        key = (event.item_id, event.content_index)
        if not response.had_audio:
            response.had_audio = True
            latency = None
            if self._turn_ended_at is not None:
                latency = (now - self._turn_ended_at) * 1000.0
                self._turn_ended_at = None
            self._out.append(ResponseAudioStarted(response_id=rid, item_id=event.item_id,
                                                  latency_ms=latency, at=now))
        self._playing_response = rid
        self.tracker.enqueue(key, n_samples)
        self._out.append(PlayAudio(response_id=rid, item_id=event.item_id,
                                   content_index=event.content_index, pcm=event.delta))
        self._fire(handling, now)

    def _on_transcript_done(self, event: ResponseOutputAudioTranscriptDone, now: float) -> None:
        key = (event.item_id, event.content_index)
        interrupted = event.response_id in self._cancelled
        self._out.append(AssistantTranscript(
            response_id=event.response_id, item_id=event.item_id, text=event.transcript,
            interrupted=interrupted,
            heard_ms=self.tracker.heard_ms(key) if interrupted else None, at=now))

    def _on_response_done(self, event: ResponseDone, now: float) -> None:
        info = event.response
        self._responses.pop(info.id, None)
        self._ended[info.id] = True
        while len(self._ended) > _REMEMBERED_RESPONSES:
            old, _ = self._ended.popitem(last=False)
            self._cancelled.discard(old)
        reason = info.status_details.reason if info.status_details else None
        self._out.append(ResponseFinished(response_id=info.id, status=info.status, reason=reason,
                                          at=now))
        if info.status == "failed":
            self._out.append(ErrorOccurred(
                message=f"response {info.id!r} failed", error=None, benign=False, fatal=False,
                at=now))
        pending = self._pending
        if pending is not None and pending.response_id == info.id:
            self._cancel_confirmed(Input.CANCELLED_DONE, now)
        self._check_drained(now)

    def _cancel_confirmed(self, input_: Input, now: float) -> None:
        """Upstream confirmed the pending cancel (``input_`` says how)."""
        handling = self._handling(input_)
        if isinstance(handling, Trigger):
            self._finish_interruption(now, acknowledged=now, timed_out=False)
            self._fire(handling, now)

    def _on_error(self, event: ServerError, now: float) -> None:
        err = event.error
        pending = self._pending
        benign = False
        if err.code == _CANCEL_NOT_ACTIVE:
            # The response ended before our cancel arrived: nothing is left to cancel.
            benign = True
            if pending is not None and err.event_id in (None, pending.cancel_event_id):
                self._cancel_confirmed(Input.CANCEL_NOT_ACTIVE, now)
        elif _TRUNCATE_OVERSHOOT in err.message:
            benign = True
        elif (err.code == _COMMIT_EMPTY and self._yield is not None
              and err.event_id is not None and err.event_id == self._yield.commit_id):
            # Our commit for words found too little audio (the server's VAD had just taken
            # it): no words will come of it, and the decision must not wait for them.
            benign = True
            self._yield.commit_in_flight = False
            self._decide(now)
        elif (err.code == _ALREADY_ACTIVE and err.event_id is not None
                and err.event_id.startswith("rt_resume")):
            # Our resume after a false interruption raced a reply the server had already
            # started: the assistant is speaking again either way.
            benign = True
        if benign:
            self.stats.benign_errors += 1
            logger.info("benign server error %s: %s", err.code, err.message)
        else:
            logger.warning("server error %s: %s", err.code, err.message)
        self._out.append(ErrorOccurred(message=err.message, error=err, benign=benign,
                                       fatal=False, at=now))

    # -- barge-in ------------------------------------------------------------------------------

    def _barge_in(self, trigger: Trigger, now: float, *, onset: float | None,
                  source: DetectionSource, yielded: _Yield | None = None) -> None:
        if yielded is None and self._yield is not None:
            # The app or the server's VAD interrupts while the decision is pending: it is
            # an interruption, from the moment playback paused, and the user's turn stands.
            yielded, self._yield = self._yield, None
            self._unanswered.extend(yielded.items)
        self._settle_stop(now, None)
        self.stats.interruptions += 1
        rid = self._playing_response
        active = rid is not None and rid in self._responses
        key = self.tracker.playing()
        if key is None and active:
            # Underrun: all received audio was heard, but the server is still generating.
            key = self.tracker.last_queued
        # Stop first: every other output of this step can wait microseconds, the user cannot.
        self._out.append(StopPlayback())
        self._drain_deadline = None
        self._fire(trigger, now)
        cancel_id = None
        if active and rid is not None:
            cancel_id = self._next_id("cancel")
            self._cancelled.add(rid)
            self._send(ResponseCancel(response_id=rid, event_id=cancel_id))
            self.stats.cancels_sent += 1
        self._pending = _PendingInterruption(
            response_id=rid, item_id=key[0] if key else None, source=source,
            cancel_event_id=cancel_id, onset=onset, detected=now, ducked=self._ducked_at)
        if yielded is not None:
            # Decided real, it is never judged noise later.
            self._pending.decided = True
        if yielded is not None and yielded.paused:
            # The user has heard nothing since the pause: that is when playback stopped for
            # them, and the speech was detected then. (A check's reply played on until now:
            # it stops now.)
            self._pending.detected = yielded.yielded
            self._pending.ducked = yielded.ducked
            self._pending.playback_stopped = yielded.yielded
        self._ducked_at = None  # clearing the output restores its gain
        # The truncate waits for the output's final count (playback_stopped): a device still
        # plays what it already handed to the driver, and the user hears that too.
        self._stop_pending = (key, active)

    def _settle_stop(self, now: float, played_samples: int | None) -> None:
        """Finish a barge-in's stop: credit the tail, send the truncate, end if nothing was
        cancelled. Runs when the I/O layer reports the stop, or at the next input if it does
        not (then with the last reported play position)."""
        if self._stop_pending is None:
            return
        key, active = self._stop_pending
        self._stop_pending = None
        pending = self._pending
        if key is not None:
            if played_samples is not None:
                self.tracker.update(played_samples)
            heard = self.tracker.heard_ms(key)
            received = self.tracker.received_ms(key)
        else:
            heard = received = 0.0
        self.tracker.clear()
        if played_samples is not None:
            self.tracker.resync(played_samples)
        truncate_ms: int | None = None
        if key is not None and (active or heard < received):
            # Clamp: never past the audio received for the item (a server error otherwise),
            # and round down, so the model never keeps a word the user did not hear.
            truncate_ms = max(0, min(math.floor(heard), math.floor(received)))
            truncate_id = self._next_id("truncate")
            self._send(ConversationItemTruncate(item_id=key[0], content_index=key[1],
                                                audio_end_ms=truncate_ms, event_id=truncate_id))
            self.stats.truncates_sent += 1
            if pending is not None:
                pending.truncate_event_id = truncate_id
            if self.barge_in.notify_model:
                # Placed right after the cut item, so the model reads it where it stopped.
                self._send(ConversationItemCreate(
                    previous_item_id=key[0], event_id=self._next_id("note"),
                    item={"type": "message", "role": "system",
                          "content": [{"type": "input_text", "text": self.interruption_note}]}))
        if pending is not None:
            pending.heard_ms, pending.received_ms = heard, received
            pending.truncate_ms = truncate_ms
            judge_after = self.barge_in.false_interruption_s
            if truncate_ms is not None and judge_after is not None and not pending.decided:
                self._judging = pending
                self._judge_deadline = pending.detected + judge_after
            if pending.cancel_event_id is None:
                # The response had already ended upstream: nothing to wait for.
                self._finish_interruption(now, acknowledged=None, timed_out=False)
                self._fire(Trigger.CANCEL_CONFIRMED, now)
            else:
                # From now, not from the detection: a decided interruption is cancelled
                # only when the decision comes.
                self._cancel_deadline = max(now, pending.detected) + self.cancel_timeout

    def _finish_interruption(self, now: float, *, acknowledged: float | None,
                             timed_out: bool) -> None:
        pending, self._pending = self._pending, None
        self._cancel_deadline = None
        self._playing_response = None
        if pending is not None:
            self._out.append(pending.finish(acknowledged=acknowledged, timed_out=timed_out))

    # -- false interruptions ------------------------------------------------------------------

    def _judged_real(self, because_of: str | None = None) -> None:
        """The pending interruption was real; ``because_of``: the user item that showed it
        (its transcript, or a reply to it), which may yet turn out to be echo."""
        if self._judging is not None and because_of is not None:
            self._judged_by = (because_of, self._judging, self._judge_deadline)
        self._judging = None
        self._judge_deadline = None

    def _judge_false(self, now: float) -> None:
        judged, self._judging = self._judging, None
        self._judge_deadline = None
        if judged is None:
            return
        handling = self._handling(Input.JUDGED_FALSE)
        if handling is Handling.IGNORE:
            return
        resume = self.barge_in.resume_after_false and handling is Handling.ACT
        if resume:
            # A note, then a plain response.create: response-level instructions would replace
            # the session's, and the model should keep its persona.
            self._send(ConversationItemCreate(
                event_id=self._next_id("resume"),
                item={"type": "message", "role": "system",
                      "content": [{"type": "input_text", "text": RESUME_NOTE}]}))
            self._send(ResponseCreate(event_id=self._next_id("resume")))
        self.stats.false_interruptions += 1
        self._out.append(FalseInterruption(item_id=judged.item_id, heard_ms=judged.heard_ms,
                                           detected=judged.detected, resumed=resume, at=now))

    # -- end of playback -----------------------------------------------------------------------

    def _check_drained(self, now: float) -> None:
        handling = self._handling(Input.DRAIN_CHECK)
        if not isinstance(handling, Trigger) or (self._yield is not None
                                                 and self._yield.paused):
            # (Yielded: nothing plays until the decision resumes or cancels the reply.)
            self._drain_deadline = None
            return
        rid = self._playing_response
        response_done = rid is None or rid not in self._responses
        if self.tracker.buffered == 0:
            if response_done:
                self._drain_deadline = None
                self._playing_response = None
                if self._ducked_at is not None:
                    # The reply ended while ducked: the next one must start at full volume.
                    self._ducked_at = None
                    self._out.append(DuckPlayback(gain=1.0, ramp_ms=0.0))
                self._fire(handling, now)
            else:
                self._drain_deadline = None  # underrun: wait for more audio
        else:
            # Wake up when the queued audio should have played out, to check again.
            self._drain_deadline = now + self.tracker.buffered / self.sample_rate
