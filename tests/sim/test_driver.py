"""The offline driver: whole conversations on a virtual clock, deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realtalk import (
    AssistantTranscript,
    BargeIn,
    FalseInterruption,
    Interrupted,
    ResponseStarted,
    State,
    StateChanged,
    ToolCallCancelled,
    ToolCallFinished,
    ToolCallStarted,
    tool,
)
from realtalk.errors import ConfigurationError
from realtalk.server import ServerOptions
from realtalk.sim import (
    EchoPath,
    EchoPathChanged,
    PathChange,
    RoomConfig,
    Simulation,
    UserSpoke,
    Utterance,
    load_clip,
)
from realtalk.transcripts import SQLiteTranscriptStore
from realtalk.vad import EnergyVAD


def _room() -> RoomConfig:
    return RoomConfig.quiet_office(echo_gain_db=-30.0)


def _script() -> list[Utterance]:
    question, _ = load_clip("weather_tomorrow")
    wait, _ = load_clip("wait_stop")
    return [
        Utterance(samples=question, text="What's the weather like tomorrow?", at=0.5),
        Utterance(samples=wait, text="Wait, stop.", after_assistant_starts=1.5),
    ]


def test_a_conversation_with_a_barge_in() -> None:
    """The user asks, the AI answers, the user talks over it: the AI stops and the truncate
    is what the speaker played."""
    sim = Simulation(_script(), room=_room())
    result = sim.run(12.0)
    assert [type(e) for e in result.timeline if isinstance(e, UserSpoke)] == [UserSpoke] * 2
    assert len(result.interruptions) == 1
    event = result.interruptions[0]
    assert isinstance(event, Interrupted)
    assert event.source == "local"
    assert event.truncate_ms is not None
    assert 1400 <= event.truncate_ms <= 1800  # barge-in 1.5 s in, plus detection
    assert event.latency.stop_ms is not None
    assert event.latency.stop_ms < 200
    states = [e.new for e in result.timeline if isinstance(e, StateChanged)]
    assert states[:4] == [State.LISTENING, State.SPEAKING, State.CANCELLING, State.LISTENING]
    assert State.SPEAKING in states[4:]  # the AI answered the interruption


def test_same_inputs_same_timeline() -> None:
    """Two runs of the same simulation give the identical timeline."""
    a = Simulation(_script(), room=_room(), seed=3).run(10.0)
    b = Simulation(_script(), room=_room(), seed=3).run(10.0)
    assert a.describe() == b.describe()
    assert a.stats == b.stats


def test_sixty_seconds_run_faster_than_real_time() -> None:
    """A 60 s conversation with echo takes well under 60 s (speed is measured in benchmarks)."""
    result = Simulation(_script(), room=_room()).run(60.0)
    assert result.simulated_s >= 60.0
    assert result.wall_s < 60.0


def test_server_vad_only_without_a_local_detector() -> None:
    """With the local detector off, the server's speech_started is the barge-in."""
    options = ServerOptions(first_audio_latency_ms=200.0)
    result = Simulation(_script(), room=_room(), barge_in=None, server_options=options).run(10.0)
    assert [e.source for e in result.interruptions] == ["server_vad"]
    assert result.interruptions[0].latency.onset is not None


def test_heard_audio_is_speech_not_silence() -> None:
    """What the room's speaker emitted while the AI spoke carries speech energy."""
    sim = Simulation(_script(), room=_room())
    sim.run(6.0)
    truth = sim.room.ground_truth(0, sim.room.mic_position)
    assert float(np.sqrt(np.mean(truth.speaker**2))) > 0.01


def test_a_click_taken_for_speech_is_judged_false_and_the_ai_resumes() -> None:
    """A hair-trigger detector stops the AI on a click; no words follow, so the interruption
    is judged false and the AI carries on."""
    question, _ = load_clip("weather_tomorrow")
    click, _ = load_clip("click")
    script = [
        Utterance(samples=question, text="What's the weather like tomorrow?", at=0.5),
        Utterance(samples=click, text="(click)", after_assistant_starts=1.0),
    ]
    # The energy detector: the default one rejects clicks by their spectrum. No level bars
    # either: they judge a click by what its frame holds throughout, next to nothing.
    sim = Simulation(script, room=_room(), vad=EnergyVAD(),
                     barge_in=BargeIn(min_speech_ms=0, false_interruption_s=1.5,
                                      decide=False, max_below_user_db=None,
                                      min_over_room_db=None))
    result = sim.run(10.0)
    assert len(result.interruptions) == 1
    false = [e for e in result.timeline if isinstance(e, FalseInterruption)]
    assert len(false) == 1
    assert false[0].resumed
    speaking = [e.at for e in result.timeline
                if isinstance(e, StateChanged) and e.new is State.SPEAKING]
    assert len(speaking) == 2
    assert speaking[1] > false[0].at  # the AI spoke again after the judgement


@pytest.mark.parametrize("vad", ["energy", "default"])
def test_graded_response_ducks_on_a_click_and_restores(vad: str) -> None:
    """A click that an energy detector takes for speech ducks the AI for a moment (no
    interruption), then full volume again; the default detector does not even duck. A real
    barge-in ducks before it stops either way."""
    question, _ = load_clip("weather_tomorrow")
    click, _ = load_clip("click")
    wait, _ = load_clip("wait_stop")
    script = [
        Utterance(samples=question, text="What's the weather like tomorrow?", at=0.5),
        Utterance(samples=click, text="(click)", after_assistant_starts=1.0),
        Utterance(samples=wait, text="Wait, stop.", after_assistant_starts=2.5),
    ]
    sim = Simulation(script, room=_room(), vad=EnergyVAD() if vad == "energy" else None)
    result = sim.run(8.0)
    if vad == "energy":
        assert sim.session.stats.ducks_restored >= 1
    else:
        assert sim.session.stats.ducks_restored == 0
    assert len(result.interruptions) == 1
    lat = result.interruptions[0].latency
    assert lat.duck_ms is not None
    assert lat.stop_ms is not None
    assert lat.duck_ms < lat.stop_ms
    assert lat.duck_ms <= 40.0  # one or two 20 ms frames


def test_request_response_makes_the_ai_speak_first() -> None:
    """request_response() starts a reply over the virtual network, with no user turn."""
    sim = Simulation([], room=_room())
    sim.request_response()
    result = sim.run(3.0)
    states = [e.new for e in result.timeline if isinstance(e, StateChanged)]
    assert states[:2] == [State.LISTENING, State.SPEAKING]


@pytest.mark.parametrize(("sound", "echo_db"), [
    *[(sound, echo) for sound in (None, "click", "wait_stop") for echo in (-30.0, -10.0)],
    # Over -10 dB echo this cough is rejected only since the suppressor tells echo bins from
    # the user's by coherence; some coughs still stop it (benchmarks/barge_in.py counts them).
    ("cough", -30.0), ("cough", -10.0),
])
def test_the_default_detector_stops_the_ai_for_speech_only(sound: str | None,
                                                          echo_db: float) -> None:
    """With echo in the room and the default detector: silence, a click or a cough while
    the AI speaks does not stop it; speech does, once."""
    question, _ = load_clip("weather_tomorrow")
    script = [Utterance(samples=question, text="q", at=0.5)]
    if sound is not None:
        samples, _ = load_clip(sound)
        script.append(Utterance(samples=samples, text=sound, after_assistant_starts=2.0))
    sim = Simulation(script, room=RoomConfig.quiet_office(echo_gain_db=echo_db),
                     barge_in=BargeIn(false_interruption_s=None))
    result = sim.run(9.0)
    assert any(isinstance(e, StateChanged) and e.new is State.SPEAKING for e in result.timeline)
    expected = 1 if sound == "wait_stop" else 0
    assert len(result.interruptions) == expected


def test_a_simulated_conversation_records_its_transcripts(tmp_path: Path) -> None:
    """Transcript recording is the engine's, so the simulator has it as a conversation does:
    the user's two turns, the assistant's (the interrupted one flagged) and the barge-in."""
    with SQLiteTranscriptStore(tmp_path / "t.db") as store:
        result = Simulation(_script(), room=_room(), transcripts=store).run(12.0)
        records = store.records()
        (summary,) = store.conversations()
    assert len(result.interruptions) == 1
    assert [r.role for r in records if r.role == "user"] == ["user", "user"]
    assistant = [r for r in records if r.role == "assistant"]
    assert assistant and assistant[0].interrupted
    assert assistant[0].heard_ms == result.interruptions[0].truncate_ms
    assert summary.interruptions == 1


# -- tools ------------------------------------------------------------------------------------

@tool(on_interrupt="cancel")
def weather(city: str = "Oslo", day: str = "tomorrow") -> str:
    """The weather forecast."""
    return f"sunny in {city} {day}"


def _asks_for_weather(*more: Utterance) -> list[Utterance]:
    question, _ = load_clip("weather_tomorrow")
    return [Utterance(samples=question, text="What's the weather like tomorrow?", at=0.5),
            *more]


def _tool_sim(user: list[Utterance], latency_s: float) -> Simulation:
    return Simulation(user, room=_room(), transcriber_factory="oracle", tools=[weather],
                      tool_latency_s=latency_s)


def test_a_tool_call_runs_in_virtual_time_and_the_answer_quotes_it() -> None:
    result = _tool_sim(_asks_for_weather(), latency_s=1.0).run(10.0)
    (started,) = [e for e in result.timeline if isinstance(e, ToolCallStarted)]
    (finished,) = [e for e in result.timeline if isinstance(e, ToolCallFinished)]
    assert finished.at - started.at == pytest.approx(1.0)  # the tool's virtual latency
    assert finished.output == "sunny in Oslo tomorrow"
    answers = [e.text for e in result.timeline if isinstance(e, AssistantTranscript)]
    assert answers == ["The weather tool answered: sunny in Oslo tomorrow."]


def test_speech_during_a_cancel_policy_call_stops_it_and_the_reply_answers_the_user() -> None:
    """The user speaks while the tool runs: the call is stopped and answered at once, and no
    follow-up starts over the user; the reply to the user's new turn comes instead."""
    wait, _ = load_clip("wait_stop")
    # The call starts about 2.9 s in (the question's turn, then the arguments) and takes 3 s.
    result = _tool_sim(_asks_for_weather(Utterance(samples=wait, text="Wait, stop.", at=3.2)),
                       latency_s=3.0).run(14.0)
    (cancelled,) = [e for e in result.timeline if isinstance(e, ToolCallCancelled)]
    assert cancelled.reason == "the user interrupted"
    assert not [e for e in result.timeline if isinstance(e, ToolCallFinished)]
    started = [e for e in result.timeline if isinstance(e, ResponseStarted)]
    # The call's response, then the reply to "Wait, stop." (its own turn): no follow-up.
    assert len(started) == 2


def test_a_barge_in_on_the_spoken_answer_truncates_it_as_any_other() -> None:
    wait, _ = load_clip("wait_stop")
    result = _tool_sim(_asks_for_weather(
        Utterance(samples=wait, text="Wait, stop.", after_assistant_starts=0.5)),
        latency_s=0.5).run(12.0)
    (finished,) = [e for e in result.timeline if isinstance(e, ToolCallFinished)]
    assert finished.error is None
    (interrupted,) = result.interruptions
    assert interrupted.truncate_ms is not None and interrupted.truncate_ms > 0
    assert result.stats.truncates_sent == 1


def test_a_scripted_path_change_moves_the_echo_mid_reply() -> None:
    """A change timed against the assistant's speech takes effect at the first block after
    it: the timeline marks it and the room's path is the new one from then on."""
    first = EchoPath(delay_ms=10.0, gain_db=-20.0, seed=1)
    second = first.moved(3)
    sim = Simulation([], room=_room(), path_changes=[
        PathChange(path=second, after_assistant_starts=1.0),
        PathChange(path=None, at=30.0)])  # later than the run: never happens
    sim.room.change_path(0, first)
    sim.request_response()
    result = sim.run(4.0)
    started = next(e.at for e in result.timeline
                   if isinstance(e, StateChanged) and e.new is State.SPEAKING)
    changes = [e for e in result.timeline if isinstance(e, EchoPathChanged)]
    assert len(changes) == 1 and changes[0].path == second
    assert 0.0 <= changes[0].at - (started + 1.0) < 0.02 + 1e-9
    assert sim.room.echo_path == second


def test_a_path_change_needs_exactly_one_trigger() -> None:
    """Neither or both triggers, or a response number below 1, are configuration errors."""
    with pytest.raises(ConfigurationError, match="exactly one of at= or after_assistant"):
        PathChange(path=None)
    with pytest.raises(ConfigurationError, match="exactly one of at= or after_assistant"):
        PathChange(path=None, at=1.0, after_assistant_starts=1.0)
    with pytest.raises(ConfigurationError, match="response_number must be >= 1"):
        PathChange(path=None, at=1.0, response_number=0)
