"""The oracle transcriber and the transcript-level echo defence in the simulator: the server
commits the assistant's echo as a user turn, the oracle transcribes it as the assistant's words,
and the transcript filters drop it; a real user's words are transcribed as theirs and kept."""

from __future__ import annotations

import numpy as np

from realtalk import (
    BargeIn,
    InterruptionDecided,
    SessionConfig,
    State,
    StateChanged,
    TurnDetection,
    UserTranscript,
)
from realtalk.audio import AudioFrame
from realtalk.echo import (
    EchoDefences,
    EchoResult,
    EchoRiskChange,
    EchoRiskWatch,
    EchoTranscriptDropped,
)
from realtalk.server import ScriptedResponder
from realtalk.server.voice import WordTiming
from realtalk.session.decision import words_of
from realtalk.sim import (
    EchoPath,
    OracleTranscriber,
    RoomConfig,
    Simulation,
    Utterance,
    load_clip,
)

REPLY = ("The forecast for Saturday is sunny with a high of twenty four degrees and a light "
         "breeze from the west.")
RATE = 24_000
NO_CANCELLER = EchoDefences(canceller=None)


def _loud_room() -> RoomConfig:
    return RoomConfig(echo=EchoPath(delay_ms=10.0, gain_db=-3.0, rt60_s=0.3, seed=4),
                      noise_dbfs=-60.0)


def _transcripts(result_timeline: tuple[object, ...]) -> list[object]:
    return [e for e in result_timeline if isinstance(e, (UserTranscript, EchoTranscriptDropped))]


def test_echo_committed_by_the_server_is_transcribed_as_the_assistant_and_dropped() -> None:
    """No canceller: the server's VAD hears the raw echo and commits it when the reply ends.
    The oracle hears the assistant's words in it; the filters drop it. (Checks of short
    speech are off, as below: with the duck they hold, the loud echo is committed in pieces,
    and a last two-word piece the detector took for the user is kept by the filters; the
    decision then judges its words the playback's and the reply plays out.)"""
    sim = Simulation([], room=_loud_room(), echo=NO_CANCELLER, transcriber_factory="oracle",
                     barge_in=BargeIn(check_speech_ms=None),
                     responder_factory=lambda: ScriptedResponder([REPLY]),
                     config=SessionConfig(turn_detection=TurnDetection(create_response=False)))
    sim.request_response()
    result = sim.run(12.0)
    assert sim.oracle is not None
    echoes = [t for t in sim.oracle.transcripts if t.source == "echo"]
    assert echoes, "the server committed no echo turn"
    assert all(set(words_of(t.text)) <= set(words_of(REPLY)) for t in echoes)
    delivered = _transcripts(result.timeline)
    assert delivered and all(isinstance(e, EchoTranscriptDropped) for e in delivered)
    assert not result.interruptions


def test_echo_the_detector_took_for_the_user_does_not_stop_the_reply() -> None:
    """The same room with realtalk's defaults: the raw echo is loud enough for the detector
    to confirm it as speech near the reply's end, and the filters keep its last two words
    ("the west.", the detector heard a user). The assistant yields, but those words are the
    ones it played over that speech: noise, and the reply plays out instead of being
    cancelled. (At the default duck, 20 dB, the ducked echo is never confirmed at all, only
    checked: 18 dB keeps it loud enough to reach the yield this test is about. Nor does the
    raw echo stand out of the room it makes itself, so ``min_over_room_db`` is off.)"""
    sim = Simulation([], room=_loud_room(), echo=NO_CANCELLER, transcriber_factory="oracle",
                     responder_factory=lambda: ScriptedResponder([REPLY]),
                     barge_in=BargeIn(duck_gain_db=-18.0, min_over_room_db=None),
                     config=SessionConfig(turn_detection=TurnDetection(create_response=False)))
    sim.request_response()
    result = sim.run(12.0)
    decided = [e for e in result.timeline if isinstance(e, InterruptionDecided)]
    assert any(d.evidence.confirmed and d.evidence.transcript == "" for d in decided)
    assert {d.verdict for d in decided} == {"noise"}
    assert not result.interruptions


def test_a_dropped_echo_turn_is_deleted_upstream_and_not_answered() -> None:
    """The server commits the echo at the end of the reply and starts answering it; once the
    filters drop its transcript, the item is deleted and the answer cancelled before it plays.
    (Checks of short speech are off: they would commit the loud echo in pieces first, each
    judged noise, and the server would have no turn of its own left to answer.)"""
    sim = Simulation([], room=_loud_room(), echo=NO_CANCELLER, transcriber_factory="oracle",
                     barge_in=BargeIn(check_speech_ms=None),
                     responder_factory=lambda: ScriptedResponder([REPLY, "An answer to echo."]))
    sim.request_response()
    result = sim.run(14.0)
    dropped = [e for e in result.timeline if isinstance(e, EchoTranscriptDropped)]
    assert dropped
    assert all(sim.server.conversation.get(e.item_id) is None for e in dropped)
    assert sim.session.stats.echo_replies_cancelled >= 1
    speaking = [e for e in result.timeline
                if isinstance(e, StateChanged) and e.new is State.SPEAKING]
    assert len(speaking) == 1  # only the first reply was ever heard


def test_the_users_words_are_transcribed_as_theirs_and_kept() -> None:
    question, _ = load_clip("weather_tomorrow")
    sim = Simulation([Utterance(samples=question, text="What's the weather like tomorrow?",
                                at=0.5)],
                     room=RoomConfig.quiet_office(echo_gain_db=-20.0),
                     transcriber_factory="oracle")
    result = sim.run(5.0)
    assert sim.oracle is not None
    assert [t.source for t in sim.oracle.transcripts] == ["user"]
    delivered = _transcripts(result.timeline)
    assert len(delivered) == 1
    assert isinstance(delivered[0], UserTranscript)
    assert delivered[0].text == "What's the weather like tomorrow?"
    # The server's turn, mapped back to capture time, starts where the user did.
    assert delivered[0].speech_started_at is not None
    assert abs(delivered[0].speech_started_at - 0.5) < 0.3


def test_the_oracle_finds_a_committed_item_and_the_words_played_during_it() -> None:
    words = (WordTiming("hello", 0.0, 400.0), WordTiming("there", 500.0, 900.0),
             WordTiming("friend", 1000.0, 1400.0))
    oracle = OracleTranscriber(RATE, lambda item_id: words if item_id == "a" else ())
    rng = np.random.default_rng(0)
    sent = rng.integers(-2000, 2000, RATE * 2).astype(np.int16)
    for i in range(0, len(sent), 480):
        oracle.uplinked(sent[i:i + 480], mic_sample=i)
        oracle.speaker(i + 480, ("a", 0), (i + 480) * 1000.0 / RATE)
    # The item is the audio from 0.5 s to 0.95 s: "there" was played then (and "hello"
    # within the echo tail before it).
    text = oracle.transcribe(sent[RATE // 2: RATE * 95 // 100], RATE)
    assert text == "hello there"
    assert oracle.transcripts[-1].source == "echo"
    assert abs(oracle.transcripts[-1].start_s - 0.5) < 1e-3
    oracle.user_spoke(RATE // 2, RATE, "yes please")
    assert oracle.transcribe(sent[RATE // 2: RATE * 95 // 100], RATE) == "yes please"
    assert [t.source for t in oracle.transcripts] == ["echo", "user"]
    # Audio that was never sent: nothing heard.
    assert oracle.transcribe(np.ones(RATE // 10, dtype=np.int16), RATE) == ""
    # A recogniser that mishears: its mistakes are what the server reports.
    oracle.mishear = lambda words: [w.upper() for w in words][:1]
    assert oracle.transcribe(sent[RATE // 2: RATE * 95 // 100], RATE) == "YES"
    assert oracle.transcripts[-1].text == "YES"


class _PassThrough:
    """An echo filter that removes nothing: a canceller that never converges."""

    def process(self, frame: AudioFrame) -> EchoResult:
        return EchoResult(frame, None)

    def reset(self) -> None:
        pass


def test_the_echo_risk_watch_runs_in_the_simulator() -> None:
    """A canceller that cannot cancel, in a loud room: the default watch raises the bar and
    falls back to half-duplex, as a conversation's would, and the microphone is muted while
    the assistant speaks."""

    sim = Simulation([], room=_loud_room(),
                     echo=EchoDefences(canceller=_PassThrough(), watch=EchoRiskWatch()),
                     responder_factory=lambda: ScriptedResponder([REPLY * 3]))
    sim.request_response()
    result = sim.run(15.0)
    levels = [e.level for e in result.timeline if isinstance(e, EchoRiskChange)]
    assert levels[:2] == ["raised", "half_duplex"]
    assert sim.echo_control.muted_frames > 0
    assert not result.interruptions
