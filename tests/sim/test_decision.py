"""The interruption decision end to end, in the simulator: the assistant yields at once, a
backchannel lets the same reply play on from the paused sample, an interruption cancels it
and truncates at the pause."""

from __future__ import annotations

from realtalk import (
    Backchannel,
    BargeIn,
    Interrupted,
    InterruptionDecided,
    ResponseStarted,
    State,
    StateChanged,
)
from realtalk.session_config import TurnDetection
from realtalk.sim import RoomConfig, Simulation, Utterance, load_clip
from realtalk.testing import ScriptedClassifier


def _script(second: Utterance) -> list[Utterance]:
    question, _ = load_clip("weather_tomorrow")
    return [Utterance(samples=question, text="What's the weather like tomorrow?", at=0.5),
            second]


def _yeah() -> Utterance:
    # The "Yes" of "Yes, please": a word, about a third of a second.
    yes, rate = load_clip("yes_please")
    return Utterance(samples=yes[: int(0.42 * rate)], text="Yeah.",
                     after_assistant_starts=1.5)


def test_a_backchannel_pauses_the_reply_and_it_plays_on_from_the_same_sample() -> None:
    sim = Simulation(_script(_yeah()), room=RoomConfig.quiet_office(echo_gain_db=-30.0),
                     barge_in=BargeIn(decide=True), transcriber_factory="oracle")
    result = sim.run(14.0)
    decided = [e for e in result.timeline if isinstance(e, InterruptionDecided)]
    assert [d.verdict for d in decided] == ["backchannel"]
    assert decided[0].evidence.transcript == "Yeah."
    assert any(isinstance(e, Backchannel) for e in result.timeline)
    assert not result.interruptions
    assert sim.session.stats.yields == 1 and sim.session.stats.resumed == 1
    # The reply plays on: it was silent only from the pause to the decision (the output's
    # own test checks that the samples are exactly the unplayed ones, in order).
    started = next(e.at for e in result.timeline
                   if isinstance(e, StateChanged) and e.new is State.SPEAKING)
    paused_s = decided[0].decided - decided[0].yielded
    assert sim.session.state is State.SPEAKING
    expected = (result.simulated_s - started - paused_s) * 24_000
    assert abs(sim.session.tracker.played - expected) < 0.1 * 24_000
    # The session owns the turns: the server starts no reply by itself, the question was
    # answered at realtalk's request, and the backchannel was deleted, never answered.
    detection = sim.session.config.turn_detection
    assert isinstance(detection, TurnDetection)
    assert not detection.create_response and not detection.interrupt_response
    assert len([e for e in result.timeline if isinstance(e, ResponseStarted)]) == 1
    assert "Yeah." not in [item.text() for item in sim.server.conversation]


def test_an_interruption_is_cancelled_and_truncated_at_the_pause() -> None:
    wait, _ = load_clip("wait_stop")
    sim = Simulation(_script(Utterance(samples=wait, text="Wait, stop.",
                                       after_assistant_starts=1.5)),
                     room=RoomConfig.quiet_office(echo_gain_db=-30.0),
                     barge_in=BargeIn(decide=True), transcriber_factory="oracle")
    result = sim.run(10.0)
    decided = [e for e in result.timeline if isinstance(e, InterruptionDecided)]
    assert [d.verdict for d in decided] == ["interruption"]
    assert len(result.interruptions) == 1
    stop = result.interruptions[0]
    assert isinstance(stop, Interrupted)
    # The user heard nothing after the pause: that is the stop, and the truncate is there.
    assert stop.latency.playback_stopped == decided[0].yielded
    assert stop.truncate_ms is not None and stop.truncate_ms <= stop.heard_ms + 1
    assert not any(type(e).__name__ == "FalseInterruption" for e in result.timeline)
    # The user's words are the next turn: answered once the cancel is through.
    started = [e for e in result.timeline if isinstance(e, ResponseStarted)]
    assert len(started) == 2 and started[1].at > stop.latency.playback_stopped


def test_a_verdict_of_noise_resumes_even_a_real_command() -> None:
    """The classifier decides, not the detector: told "noise", the session resumes."""
    wait, _ = load_clip("wait_stop")
    classifier = ScriptedClassifier("noise", after_ms=200.0)
    sim = Simulation(_script(Utterance(samples=wait, text="Wait, stop.",
                                       after_assistant_starts=1.5)),
                     room=RoomConfig.quiet_office(echo_gain_db=-30.0),
                     barge_in=BargeIn(decide=True, classifier=classifier))
    result = sim.run(8.0)
    decided = [e for e in result.timeline if isinstance(e, InterruptionDecided)]
    assert [d.verdict for d in decided] == ["noise"]
    assert 200.0 <= decided[0].evidence.since_yield_ms < 240.0
    assert not result.interruptions and sim.session.stats.resumed == 1
    assert classifier.evidence[0].speaking  # shown from the first frame after the yield


def test_no_verdict_in_time_is_an_interruption() -> None:
    """A classifier that never decides cannot leave the assistant paused:
    ``max_yield_ms`` ends the pause as an interruption."""
    wait, _ = load_clip("wait_stop")
    sim = Simulation(_script(Utterance(samples=wait, text="Wait, stop.",
                                       after_assistant_starts=1.5)),
                     room=RoomConfig.quiet_office(echo_gain_db=-30.0),
                     barge_in=BargeIn(decide=True, classifier=ScriptedClassifier(None),
                                      max_yield_ms=1000.0))
    result = sim.run(8.0)
    decided = [e for e in result.timeline if isinstance(e, InterruptionDecided)]
    assert [d.verdict for d in decided] == ["interruption"]
    assert abs(decided[0].decided - decided[0].yielded - 1.0) < 0.03
    assert len(result.interruptions) == 1
