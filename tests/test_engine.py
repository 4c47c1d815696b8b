"""The conversation engine, driven directly: inputs with explicit times, effects out."""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt
import pytest

from realtalk import wire as ev
from realtalk.audio import AudioFrame, MemoryOutput
from realtalk.audio.pcm import int16_to_bytes
from realtalk.echo import EchoDefences, EchoPathMeasurement
from realtalk.engine import CancelTool, ConversationEngine, Effect, Emit, RunTool
from realtalk.errors import ConfigurationError
from realtalk.server import SyntheticVoice
from realtalk.session import ErrorOccurred, Interrupted, SendEvent, State, UserSpeechStarted
from realtalk.session.barge_in import BargeIn
from realtalk.session_config import DEFAULT_TRANSCRIPTION_MODEL, SessionConfig
from realtalk.testing import RecordingEchoFilter
from realtalk.tools import tool
from realtalk.tools.calls import ToolCallCancelled, ToolCallFinished, ToolCallStarted

RATE = 24_000
FRAME = RATE // 50  # 20 ms


class Clock:
    """A settable clock for the output."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _engine(clock: Clock, **kwargs: object) -> ConversationEngine:
    options: dict[str, object] = {
        "echo": EchoDefences(canceller=None, watch=None, transcript_filters=None),
        "barge_in": BargeIn()}
    options.update(kwargs)
    return ConversationEngine(output=MemoryOutput(RATE, clock=clock), **options)  # type: ignore[arg-type]


def _state(engine: ConversationEngine) -> State:
    """The state now (a call, so that the type checker does not carry an earlier check over
    the inputs that change it)."""
    return engine.state


def _sent(effects: list[Effect]) -> list[ev.ClientEvent]:
    return [e.event for e in effects if isinstance(e, SendEvent)]


def _emitted(effects: list[Effect]) -> list[object]:
    return [e.event for e in effects if isinstance(e, Emit)]


def _perform(engine: ConversationEngine, now: float) -> list[Effect]:
    """Drain the effects as a shell does: every send reported back, until none are left."""
    done: list[Effect] = []
    while effects := engine.effects():
        for effect in effects:
            if isinstance(effect, SendEvent):
                engine.sent(effect, now)
        done.extend(effects)
    return done


def _speak(engine: ConversationEngine, now: float, ms: int = 3000) -> None:
    """The server starts a response with ``ms`` of audio."""
    audio = int16_to_bytes(np.full(RATE * ms // 1000, 1000, dtype=np.int16))
    for event in (ev.ResponseCreated(response=ev.ResponseInfo(id="r1")),
                  ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1", delta=audio)):
        engine.server_frame(ev.encode(event), now)


def _voice() -> npt.NDArray[np.int16]:
    return SyntheticVoice(seed=3, pitch_hz=150).synthesize(
        "wait, wait, I have a question about that").samples


def test_open_configures_the_session() -> None:
    clock = Clock()
    engine = _engine(clock)
    engine.open(0.0)
    sent = _sent(_perform(engine, 0.0))
    assert [type(e) for e in sent] == [ev.SessionUpdate]
    assert _state(engine) is State.LISTENING


def _session_update(engine: ConversationEngine, shape: str = "ga") -> dict[str, object]:
    """The ``session`` of the engine's opening ``session.update``, as the wire carries it."""
    engine.open(0.0)
    (update,) = _sent(_perform(engine, 0.0))
    assert isinstance(update, ev.SessionUpdate)
    session: dict[str, object] = json.loads(ev.encode(update, shape))["session"]  # type: ignore[arg-type]
    return session


@pytest.mark.parametrize("shape", ["ga", "beta"])
def test_transcription_is_asked_for_unless_the_config_says(shape: str) -> None:
    """The service transcribes the user only when asked, and the conversation's user
    transcripts need it: unset, the default model is asked for; a model the app set is kept;
    False sends null (none)."""
    def transcription(config: SessionConfig | None) -> object:
        session = _session_update(_engine(Clock(), config=config, wire_shape=shape), shape)
        if shape == "ga":
            return session["audio"]["input"].get("transcription", "unset")  # type: ignore[index]
        return session.get("input_audio_transcription", "unset")

    assert transcription(None) == {"model": DEFAULT_TRANSCRIPTION_MODEL}
    assert transcription(SessionConfig(voice="alloy")) == {"model": "gpt-4o-mini-transcribe"}
    assert transcription(SessionConfig(transcription_model="whisper-1")) == {"model": "whisper-1"}
    assert transcription(SessionConfig(transcription_model=False)) is None


def test_transcription_off_with_transcript_filters_is_warned_of(
        caplog: pytest.LogCaptureFixture) -> None:
    """The transcript echo filters judge user transcripts: with transcription off they never
    run, which the app is told of."""
    off = SessionConfig(transcription_model=False)
    with caplog.at_level("WARNING", logger="realtalk.engine"):
        _engine(Clock(), config=off)  # filters off: nothing to warn of
        assert caplog.records == []
        _engine(Clock(), config=off, echo=EchoDefences(canceller=None, watch=None))
    assert "transcript echo filters will see no user transcript" in caplog.text


def test_a_barge_in_stops_and_cancels_before_the_frame_goes_upstream() -> None:
    """Detection first: the confirmed frame's cancel and truncate precede its own append,
    and the truncate is what the output played. (No server transcribes here: the decision
    is the duration's, so nothing is committed for words.)"""
    clock = Clock()
    engine = _engine(clock, barge_in=BargeIn(commit_after_silence_ms=None))
    engine.open(0.0)
    _perform(engine, 0.0)
    _speak(engine, 0.0)
    _perform(engine, 0.0)
    assert _state(engine) is State.SPEAKING
    voice = _voice()
    order: list[str] = []
    for k in range(len(voice) // FRAME):
        clock.now = 1.0 + (k + 1) * FRAME / RATE
        frame = AudioFrame(voice[k * FRAME:(k + 1) * FRAME], RATE, clock.now - FRAME / RATE)
        engine.microphone(frame, clock.now)
        for event in _sent(_perform(engine, clock.now)):
            order.append(event.type)
        if _state(engine) is State.CANCELLING:
            break
    assert _state(engine) is State.CANCELLING
    first_cancel = order.index("response.cancel")
    # cancel, truncate, the note that the model was interrupted, then the frame itself
    assert order[first_cancel:] == ["response.cancel", "conversation.item.truncate",
                                    "conversation.item.create", "input_audio_buffer.append"]
    engine.server_frame(ev.encode(ev.ResponseDone(
        response=ev.ResponseInfo(id="r1", status="cancelled"))), clock.now)
    _perform(engine, clock.now)
    (interrupted,) = engine.interruptions
    played_ms = engine.output.played_samples() * 1000 / RATE
    assert interrupted.truncate_ms is not None
    assert abs(interrupted.truncate_ms - played_ms) <= 1


@pytest.mark.parametrize(("likeness", "stops"), [(0.9, False), (0.1, True)])
def test_the_cancellers_echo_likeness_reaches_the_detector(likeness: float,
                                                           stops: bool) -> None:
    """A voice the echo canceller judges to follow the playback (a moved path's residue)
    does not stop the assistant; the same voice judged unlike it does."""
    clock = Clock()
    canceller = RecordingEchoFilter(echo_likeness=likeness)
    engine = _engine(clock, echo=EchoDefences(canceller=canceller, watch=None,
                                              transcript_filters=None),
                     barge_in=BargeIn(decide=False))
    engine.open(0.0)
    _perform(engine, 0.0)
    _speak(engine, 0.0)
    _perform(engine, 0.0)
    voice = _voice()
    for k in range(len(voice) // FRAME):
        clock.now = 1.0 + (k + 1) * FRAME / RATE
        frame = AudioFrame(voice[k * FRAME:(k + 1) * FRAME], RATE, clock.now - FRAME / RATE,
                           reference=np.zeros(FRAME, np.int16))
        engine.microphone(frame, clock.now)
        _perform(engine, clock.now)
    assert (_state(engine) is not State.SPEAKING) is stops


def test_a_malformed_server_frame_is_an_error_event_and_the_engine_goes_on() -> None:
    clock = Clock()
    engine = _engine(clock)
    engine.open(0.0)
    _perform(engine, 0.0)
    engine.server_frame("{not json", 0.1)
    (error,) = [e for e in _emitted(_perform(engine, 0.1)) if isinstance(e, ErrorOccurred)]
    assert not error.fatal and "malformed server event" in error.message
    _speak(engine, 0.2)
    _perform(engine, 0.2)
    assert _state(engine) is State.SPEAKING


def test_nothing_is_sent_or_played_after_close() -> None:
    clock = Clock()
    engine = _engine(clock)
    engine.open(0.0)
    _speak(engine, 0.0)
    _perform(engine, 0.0)
    engine.close(0.5)
    emitted = _perform(engine, 0.5)
    assert all(isinstance(e, Emit) for e in emitted)
    assert _state(engine) is State.IDLE
    engine.microphone(AudioFrame(_voice()[:FRAME], RATE, 0.5), 0.52)
    engine.server_frame(ev.encode(ev.ResponseCreated(response=ev.ResponseInfo(id="r2"))), 0.6)
    assert engine.effects() == []


def test_a_lost_connection_is_one_fatal_error_then_closed() -> None:
    clock = Clock()
    engine = _engine(clock)
    engine.open(0.0)
    _perform(engine, 0.0)
    engine.fail("connection lost: peer went away", 1.0)
    engine.fail("connection lost: again", 1.1)
    errors = [e for e in _emitted(_perform(engine, 1.1)) if isinstance(e, ErrorOccurred)]
    assert [(e.fatal, e.message) for e in errors] == [(True, "connection lost: peer went away")]
    assert engine.closed


def test_the_edge_converts_stereo_48k_to_mono_24k_before_anything_else() -> None:
    clock = Clock()
    engine = _engine(clock, barge_in=None)
    engine.open(0.0)
    _perform(engine, 0.0)
    sent = 0
    for k in range(50):
        stereo = np.zeros((960, 2), dtype=np.int16)
        engine.microphone(AudioFrame(stereo, 48_000, k * 0.02), (k + 1) * 0.02)
        for event in _sent(_perform(engine, (k + 1) * 0.02)):
            assert isinstance(event, ev.InputAudioBufferAppend)
            sent += len(event.audio) // 2
    # One second of 48 kHz stereo in, about one second of 24 kHz mono out (less the
    # resampler's held-back tail).
    assert RATE - 100 <= sent <= RATE


def test_calibration_needs_frames_with_a_speaker_reference() -> None:
    clock = Clock()
    engine = _engine(clock)
    engine.open(0.0)
    _perform(engine, 0.0)
    recording = engine.calibrate()
    assert engine.output.buffered_samples() == len(recording.probe)
    engine.microphone(AudioFrame(np.zeros(FRAME, np.int16), RATE, 0.0), 0.02)
    assert recording.finished and recording.error is not None
    assert "AudioFrame.reference" in str(recording.error)
    assert engine.calibration is None
    # The frames recorded for a calibration never go upstream.
    assert _sent(_perform(engine, 0.02)) == []


def _calibrate(engine: ConversationEngine, clock: Clock) -> EchoPathMeasurement | None:
    """Run a calibration on frames that carry the speaker's samples, with the probe's echo
    40 ms later and 12 dB down."""
    engine.open(0.0)
    _perform(engine, 0.0)
    recording = engine.calibrate()
    speaker = np.concatenate([recording.probe, np.zeros(RATE * 2, np.int16)])
    delay = RATE * 40 // 1000
    mic = np.zeros_like(speaker)
    mic[delay:] = (speaker[:-delay] * 10 ** (-12 / 20)).astype(np.int16)
    rng = np.random.default_rng(0)
    mic = (mic + rng.normal(0, 3, len(mic))).astype(np.int16)
    k = 0
    while not recording.finished:
        part = slice(k * FRAME, (k + 1) * FRAME)
        clock.now = (k + 1) * FRAME / RATE
        engine.microphone(AudioFrame(mic[part], RATE, k * FRAME / RATE,
                                     reference=speaker[part]), clock.now)
        k += 1
    return recording.result


def test_calibration_measures_the_path_from_the_probes_echo() -> None:
    """A trusted measurement is emitted and kept."""
    clock = Clock()
    engine = _engine(clock, echo=EchoDefences(watch=None, transcript_filters=None))
    measurement = _calibrate(engine, clock)
    assert measurement is not None and measurement.ok, measurement
    assert abs(measurement.delay_ms - 40.0) <= 1.0
    assert abs(measurement.gain_db + 12.0) <= 2.0
    emitted = _emitted(_perform(engine, clock.now))
    assert [e for e in emitted if isinstance(e, EchoPathMeasurement)] == [measurement]
    assert engine.echo_path == measurement


def test_calibration_seeds_any_canceller_that_can_start_from_a_delay() -> None:
    """Not only the built-in EchoCanceller: any stage with seed_delay is seeded."""
    clock = Clock()
    canceller = RecordingEchoFilter()
    engine = _engine(clock, echo=EchoDefences(canceller=canceller, watch=None,
                                              transcript_filters=None))
    measurement = _calibrate(engine, clock)
    assert measurement is not None and measurement.ok
    assert canceller.seeded_delays == [measurement.delay_samples(RATE)]


def test_an_interrupt_from_the_app_reports_whether_it_was_speaking() -> None:
    clock = Clock()
    engine = _engine(clock)
    engine.open(0.0)
    _perform(engine, 0.0)
    assert not engine.interrupt(0.1)
    _speak(engine, 0.2)
    _perform(engine, 0.2)
    clock.now = 0.7
    assert engine.interrupt(0.7)
    emitted = _perform(engine, 0.7)
    assert any(isinstance(e, SendEvent) and isinstance(e.event, ev.ResponseCancel)
               for e in emitted)
    assert _state(engine) is State.CANCELLING
    engine.server_frame(ev.encode(ev.ResponseDone(
        response=ev.ResponseInfo(id="r1", status="cancelled"))), 0.75)
    events = _emitted(_perform(engine, 0.75))
    assert any(isinstance(e, Interrupted) for e in events)
    assert _state(engine) is State.LISTENING


# -- tools ------------------------------------------------------------------------------------


@tool(on_interrupt="cancel")
def find_flight(city: str) -> str:
    """Find the next flight to a city."""
    return f"the next flight to {city} leaves at nine"


def _function_call(engine: ConversationEngine, now: float, rid: str = "r1",
                   call_id: str = "call_1", arguments: str = '{"city": "Oslo"}') -> None:
    item = {"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id,
            "name": "find_flight", "arguments": ""}
    for event in (ev.ResponseOutputItemAdded(response_id=rid, output_index=1, item=item),
                  ev.ResponseFunctionCallArgumentsDone(
                      response_id=rid, item_id=f"fc_{call_id}", output_index=1,
                      call_id=call_id, arguments=arguments, name="find_flight")):
        engine.server_frame(ev.encode(event), now)


def test_tools_are_declared_in_the_session_and_not_twice() -> None:
    clock = Clock()
    engine = _engine(clock, tools=[find_flight])
    engine.open(0.0)
    (update,) = _sent(_perform(engine, 0.0))
    assert isinstance(update, ev.SessionUpdate)
    assert update.session.extra["tools"] == [find_flight.definition()]
    assert update.session.extra["tool_choice"] == "auto"
    assert json.loads(ev.encode(update))["session"]["tools"][0]["name"] == "find_flight"
    with pytest.raises(ConfigurationError, match="tools are declared twice"):
        _engine(clock, tools=[find_flight], config=SessionConfig(extra={"tools": []}))


def test_a_call_runs_then_is_answered_and_followed_up_once() -> None:
    clock = Clock()
    engine = _engine(clock, tools=[find_flight])
    engine.open(0.0)
    _perform(engine, 0.0)
    engine.server_frame(ev.encode(ev.ResponseCreated(response=ev.ResponseInfo(id="r1"))), 0.1)
    _function_call(engine, 0.2)
    effects = _perform(engine, 0.2)
    (run,) = [e for e in effects if isinstance(e, RunTool)]
    assert dict(run.arguments) == {"city": "Oslo"}
    assert any(isinstance(e, ToolCallStarted) for e in _emitted(effects))
    engine.server_frame(ev.encode(ev.ResponseDone(response=ev.ResponseInfo(
        id="r1", status="completed"))), 0.3)
    _perform(engine, 0.3)
    engine.tool_finished("call_1", 0.5, result=run.tool(**run.arguments))
    effects = _perform(engine, 0.5)
    sent = _sent(effects)
    assert [e.type for e in sent] == ["conversation.item.create", "response.create"]
    assert sent[0].item == {"type": "function_call_output", "call_id": "call_1",  # type: ignore[union-attr]
                            "output": "the next flight to Oslo leaves at nine"}
    (finished,) = [e for e in _emitted(effects) if isinstance(e, ToolCallFinished)]
    assert finished.duration_s == pytest.approx(0.3)


def test_a_barge_in_truncates_the_audio_and_cancels_a_cancel_policy_call() -> None:
    """A response that speaks and calls a tool: the barge-in truncates its audio item (not
    the call), the note follows, the call is stopped and answered, and no follow-up starts
    over the user."""
    clock = Clock()
    engine = _engine(clock, tools=[find_flight])
    engine.open(0.0)
    _perform(engine, 0.0)
    _speak(engine, 0.0)
    _function_call(engine, 0.1)
    _perform(engine, 0.1)
    clock.now = 0.5
    engine.interrupt(0.5)
    effects = _perform(engine, 0.5)
    sent = _sent(effects)
    assert [e.type for e in sent][:2] == ["response.cancel", "conversation.item.truncate"]
    truncate = sent[1]
    assert isinstance(truncate, ev.ConversationItemTruncate) and truncate.item_id == "i1"
    assert [e for e in effects if isinstance(e, CancelTool)] == [CancelTool("call_1")]
    outputs = [e for e in sent if isinstance(e, ev.ConversationItemCreate)
               and e.item.get("type") == "function_call_output"]
    assert len(outputs) == 1 and "the user interrupted" in outputs[0].item["output"]
    notes = [e for e in sent if isinstance(e, ev.ConversationItemCreate)
             and e.item.get("role") == "system"]
    assert len(notes) == 1
    assert any(isinstance(e, ToolCallCancelled) for e in _emitted(effects))
    engine.server_frame(ev.encode(ev.ResponseDone(response=ev.ResponseInfo(
        id="r1", status="cancelled"))), 0.6)
    engine.tool_finished("call_1", 0.7, result="too late")
    assert not [e for e in _sent(_perform(engine, 0.7)) if e.type == "response.create"]


def test_the_assistant_yields_at_once_when_it_starts_over_a_user_still_talking() -> None:
    """The user's onset came while nothing played (reported, not a barge-in); the assistant's
    audio then starts while they are still talking: it stops and cancels in the same step, so
    its voice never runs over theirs and their turn gets the reply."""
    clock = Clock()
    engine = _engine(clock)
    engine.open(0.0)
    _perform(engine, 0.0)
    voice = _voice()
    heard = False
    k = 0
    while not heard:
        clock.now = (k + 1) * FRAME / RATE
        engine.microphone(AudioFrame(voice[k * FRAME:(k + 1) * FRAME], RATE, k * FRAME / RATE),
                          clock.now)
        heard = any(isinstance(e, UserSpeechStarted) for e in _emitted(_perform(engine,
                                                                                clock.now)))
        k += 1
    assert engine.detector is not None and engine.detector.speaking
    _speak(engine, clock.now)
    sent = [e.type for e in _sent(_perform(engine, clock.now))]
    assert sent[0] == "response.cancel"
    assert _state(engine) is State.CANCELLING
    assert engine.output.buffered_samples() == 0


def test_an_assistant_starting_after_the_user_finished_is_not_stopped() -> None:
    clock = Clock()
    engine = _engine(clock)
    engine.open(0.0)
    _perform(engine, 0.0)
    voice = _voice()
    frames = len(voice) // FRAME
    for k in range(frames + 50):  # the utterance, then a second of silence
        chunk = voice[k * FRAME:(k + 1) * FRAME] if k < frames else np.zeros(FRAME, np.int16)
        clock.now = (k + 1) * FRAME / RATE
        engine.microphone(AudioFrame(chunk, RATE, k * FRAME / RATE), clock.now)
        _perform(engine, clock.now)
    assert engine.detector is not None and not engine.detector.speaking
    _speak(engine, clock.now)
    _perform(engine, clock.now)
    assert _state(engine) is State.SPEAKING


def test_the_answer_to_a_decided_interruption_is_not_taken_for_a_reply_over_the_user() -> None:
    """The user said "stop" and fell silent; the words made it an interruption and its answer
    starts before the silence that re-arms the detector (``rearm_silence_ms``, which stray
    frames in a noisy room put off further). Judged speech is over: the answer plays, where
    it used to be stopped as a reply begun over a user still talking."""
    clock = Clock()
    engine = _engine(clock, barge_in=BargeIn(commit_after_silence_ms=100.0,
                                             rearm_silence_ms=1000.0))
    engine.open(0.0)
    _perform(engine, 0.0)
    _speak(engine, 0.0)
    _perform(engine, 0.0)
    word = _voice()[:RATE * 2 // 5]  # "wait": 400 ms
    sent: list[ev.ClientEvent] = []
    for k in range(40):  # the word, then silence
        chunk = word[k * FRAME:(k + 1) * FRAME]
        chunk = np.pad(chunk, (0, FRAME - len(chunk)))
        clock.now = 1.0 + (k + 1) * FRAME / RATE
        engine.microphone(AudioFrame(chunk, RATE, clock.now - FRAME / RATE), clock.now)
        sent += _sent(_perform(engine, clock.now))
        if any(isinstance(e, ev.InputAudioBufferCommit) for e in sent):
            break
    assert engine.session.yielded and any(isinstance(e, ev.InputAudioBufferCommit) for e in sent)
    for event in (ev.InputAudioBufferCommitted(item_id="u2"),
                  ev.InputAudioTranscriptionCompleted(item_id="u2", content_index=0,
                                                      transcript="Wait.")):
        engine.server_frame(ev.encode(event), clock.now)
    assert _state(engine) is State.CANCELLING
    engine.server_frame(ev.encode(ev.ResponseDone(
        response=ev.ResponseInfo(id="r1", status="cancelled"))), clock.now)
    asked = decided_at = clock.now
    while not any(isinstance(e, ev.ResponseCreate) for e in _sent(_perform(engine, clock.now))):
        # The answer waits for the end of the user's turn (500 ms of silence).
        assert clock.now - decided_at < 1.0
        clock.now += FRAME / RATE
        engine.microphone(AudioFrame(np.zeros(FRAME, np.int16), RATE, clock.now - FRAME / RATE),
                          clock.now)
        asked = clock.now
    assert engine.detector is not None and not engine.detector.speaking
    answer = int16_to_bytes(np.full(RATE, 1000, dtype=np.int16))
    for reply in (ev.ResponseCreated(response=ev.ResponseInfo(id="r2")),
                  ev.ResponseOutputAudioDelta(response_id="r2", item_id="i2", delta=answer)):
        engine.server_frame(ev.encode(reply), asked + 0.1)
    assert not [e for e in _sent(_perform(engine, asked + 0.1))
                if isinstance(e, ev.ResponseCancel)]
    assert _state(engine) is State.SPEAKING


@pytest.mark.parametrize("ended", [True, False])
def test_a_turn_the_server_ended_lets_the_detector_follow_a_user_who_became_quieter(
        ended: bool) -> None:
    """The user's level is learned from their first turn; they then talk 16 dB softer. Their
    soft turn is never confirmed, but once the server's VAD ends it (a turn) the detector
    learns their level again, and their soft barge-in stops the assistant. Without the
    turn's end it cannot: only speech near the old level is confirmed. (The microphone here
    hears nothing but the user, so the room's level, ``min_over_room_db``, would be their own
    voice: that bar is off, this test is about the user's level.)"""
    clock = Clock()
    engine = _engine(clock, barge_in=BargeIn(decide=False, min_over_room_db=None))
    engine.open(0.0)
    _perform(engine, 0.0)
    voice = _voice()
    soft = np.round(voice * 10 ** (-16 / 20)).astype(np.int16)
    silence = np.zeros(RATE // 2, np.int16)
    now = 0.0

    def say(samples: npt.NDArray[np.int16], playing: bool) -> None:
        nonlocal now
        for k in range(len(samples) // FRAME):
            now += FRAME / RATE
            clock.now = now
            engine.microphone(AudioFrame(
                samples[k * FRAME:(k + 1) * FRAME], RATE, now - FRAME / RATE,
                reference=np.full(FRAME, 1000, np.int16) if playing else None), now)
            _perform(engine, now)
            if _state(engine) is not State.SPEAKING and playing:
                return

    say(np.concatenate((voice, silence)), playing=False)
    engine.server_frame(ev.encode(ev.InputAudioBufferSpeechStopped(
        audio_end_ms=0, item_id="u1")), now)
    _perform(engine, now)
    level = engine.detector.user_level.level_dbfs if engine.detector is not None else None
    assert level is not None
    say(np.concatenate((soft, silence)), playing=False)
    if ended:
        engine.server_frame(ev.encode(ev.InputAudioBufferSpeechStopped(
            audio_end_ms=0, item_id="u2")), now)
        _perform(engine, now)
    relearned = engine.detector.user_level.level_dbfs if engine.detector is not None else None
    assert relearned is not None and (relearned < level - 10) is ended
    _speak(engine, now)
    _perform(engine, now)
    say(soft, playing=True)
    assert (_state(engine) is not State.SPEAKING) is ended
