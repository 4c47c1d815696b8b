"""The conversation engine, driven directly: inputs with explicit times, effects out."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from realtalk import wire as ev
from realtalk.audio import AudioFrame, MemoryOutput
from realtalk.audio.pcm import int16_to_bytes
from realtalk.echo import EchoDefences, EchoPathMeasurement
from realtalk.engine import ConversationEngine, Effect, Emit
from realtalk.server import SyntheticVoice
from realtalk.session import ErrorOccurred, Interrupted, SendEvent, State
from realtalk.session.barge_in import BargeIn
from realtalk.testing import RecordingEchoFilter

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


def test_a_barge_in_stops_and_cancels_before_the_frame_goes_upstream() -> None:
    """Detection first: the confirmed frame's cancel and truncate precede its own append,
    and the truncate is what the output played."""
    clock = Clock()
    engine = _engine(clock)
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
