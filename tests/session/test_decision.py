"""The interruption decision's default judge: duration first, then the words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import attrs
import pytest

from realtalk import (
    BargeIn,
    ErrorOccurred,
    Evidence,
    InterruptionDecided,
    LexiconClassifier,
    SessionConfig,
)
from realtalk import wire as ev
from realtalk.errors import ConfigurationError
from realtalk.session import (
    ClientSession,
    DuckPlayback,
    PausePlayback,
    ResumePlayback,
    SendEvent,
    StopPlayback,
)
from realtalk.session.barge_in import ShortSpeech
from realtalk.session.decision import words_of
from realtalk.session.state import State
from realtalk.session_config import DEFAULT_TRANSCRIPTION_MODEL
from realtalk.testing import ScriptedClassifier

_E = TypeVar("_E")


def _evidence(speech_ms: float = 200.0, silent_ms: float = 0.0, speaking: bool = True,
              transcript: str | None = None) -> Evidence:
    return Evidence(speech_ms=speech_ms, silent_ms=silent_ms, speaking=speaking,
                    since_yield_ms=speech_ms + silent_ms, transcript=transcript)


@pytest.mark.parametrize("text", ["Yeah.", "uh-huh", "Mm-hmm!", "okay, got it", "yeah yeah",
                                  "Right.", "I see"])
def test_backchannel_words_keep_the_reply(text: str) -> None:
    assert LexiconClassifier().decide(_evidence(transcript=text)) == "backchannel"


@pytest.mark.parametrize("text", ["Stop.", "wait", "yeah but what about Tuesday",
                                  "okay wait", "No.", "hang on", "right, and the price?"])
def test_anything_more_is_an_interruption(text: str) -> None:
    assert LexiconClassifier().decide(_evidence(transcript=text)) == "interruption"


@pytest.mark.parametrize(("text", "verdict"), [
    ("Stop.", "interruption"), ("No, wait!", "interruption"), ("hang on", "interruption"),
    ("Yeah.", "backchannel"), ("setup", "noise"), ("remarkable sure", "noise"),
    ("", "noise")])
def test_speech_never_confirmed_stops_the_reply_only_on_a_command(text: str,
                                                                  verdict: str) -> None:
    """The check of a run too short to confirm: its few words are as often the assistant's
    own, transcribed back, as the user's; only a command stops the reply."""
    evidence = attrs.evolve(_evidence(speech_ms=80.0, speaking=False, transcript=text),
                            confirmed=False)
    assert LexiconClassifier().decide(evidence) == verdict


def test_no_words_is_noise() -> None:
    assert LexiconClassifier().decide(_evidence(transcript=" ... ")) == "noise"


def test_a_user_who_keeps_talking_interrupts_before_any_transcript() -> None:
    classifier = LexiconClassifier(max_backchannel_ms=800.0)
    assert classifier.decide(_evidence(speech_ms=780.0)) is None
    assert classifier.decide(_evidence(speech_ms=820.0)) == "interruption"


def test_silence_without_words_waits_only_if_the_server_heard_speech() -> None:
    """No words after the user fell silent: if the server's VAD heard speech, the words
    are waited for; if not, none will come and the undecided verdict holds (by default an
    interruption: an uncaught "stop" still stops)."""
    classifier = LexiconClassifier(wait_for_words_ms=1000.0)
    assert classifier.decide(_evidence(silent_ms=990.0, speaking=False)) is None
    assert classifier.decide(_evidence(silent_ms=1000.0, speaking=False)) == "interruption"
    heard = attrs.evolve(_evidence(silent_ms=3000.0, speaking=False), server_heard=True)
    assert classifier.decide(heard) is None  # BargeIn.max_yield_ms ends the wait
    lenient = LexiconClassifier(wait_for_words_ms=1000.0, undecided="noise")
    assert lenient.decide(_evidence(silent_ms=1000.0, speaking=False)) == "noise"


def test_words_of_keeps_hyphenated_words_whole() -> None:
    assert words_of("Uh-huh. OK, don't!") == ("uh-huh", "ok", "don't")


def test_a_classifier_without_decide_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="decide"):
        BargeIn(decide=True, classifier=object())  # type: ignore[arg-type]


def test_only_the_words_of_the_yielded_speech_decide() -> None:
    """A late transcript of an earlier turn arriving during the yield says nothing about
    this speech; the words of the item committed since do."""
    s = ClientSession(barge_in=BargeIn(decide=True))
    s.open(0.0)
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r1")), 0.1)
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="a1",
                                          delta=b"\x00\x00" * 24_000), 0.1)
    s.user_speech(0.5, onset=0.38, source="local")
    assert s.yielded and any(isinstance(o, PausePlayback) for o in s.outputs())
    s.user_words("question", "What's the weather like tomorrow?", 0.6)
    assert s.yielded  # an earlier turn's words: not this speech's
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 1.2)
    s.user_words("u2", "Yeah.", 1.3)
    out = s.outputs()
    decided = [o for o in out if isinstance(o, InterruptionDecided)]
    assert [d.verdict for d in decided] == ["backchannel"]
    assert decided[0].evidence.speech_ms == pytest.approx(120.0)  # from the onset
    assert any(isinstance(o, ResumePlayback) for o in out)
    # Owned turns: the backchannel's item is deleted, never answered.
    sends = [o.event for o in out if isinstance(o, SendEvent)]
    assert [type(e) for e in sends] == [ev.ConversationItemDelete]


def test_a_verdict_that_is_not_one_of_the_three_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="undecided"):
        LexiconClassifier(undecided="maybe")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="verdict"):
        ScriptedClassifier("maybe")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="after_ms"):
        ScriptedClassifier(after_ms=-1.0)


def _speaking_session(barge_in: BargeIn | None = None, *,
                      transcribes: bool = True) -> ClientSession:
    """A deciding session whose assistant is playing ``a1`` (2 s of audio, from 0.1 s)."""
    config = SessionConfig(transcription_model=DEFAULT_TRANSCRIPTION_MODEL if transcribes
                           else False)
    s = ClientSession(config, barge_in=barge_in or BargeIn(decide=True))
    s.open(0.0)
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r1")), 0.1)
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="a1",
                                          delta=b"\x00\x00" * 48_000), 0.1)
    return s


def _yielded_session(barge_in: BargeIn | None = None, *,
                     transcribes: bool = True) -> ClientSession:
    """:func:`_speaking_session`, yielded to user speech (onset at 0.38 s, confirmed at
    0.5 s)."""
    s = _speaking_session(barge_in, transcribes=transcribes)
    s.user_speech(0.5, onset=0.38, source="local")
    assert s.yielded
    s.outputs()
    return s


def _silence(s: ClientSession, start: float, ms: float) -> None:
    for k in range(int(ms // 20)):
        s.user_heard(start + 0.02 * (k + 1), False, 20.0)


def _commits(out: Sequence[object]) -> list[ev.InputAudioBufferCommit]:
    return [o.event for o in out
            if isinstance(o, SendEvent) and isinstance(o.event, ev.InputAudioBufferCommit)]


def test_speech_the_server_did_not_hear_is_committed_for_its_words() -> None:
    """A short "stop" the server's VAD missed: once the user has been silent
    ``commit_after_silence_ms``, the session commits the audio itself, waits for the words
    instead of guessing, and decides on them."""
    s = _yielded_session(BargeIn(decide=True, commit_after_silence_ms=300.0))
    _silence(s, 0.5, 280.0)
    assert _commits(s.outputs()) == []
    _silence(s, 0.78, 40.0)
    out = s.outputs()
    assert len(_commits(out)) == 1
    _silence(s, 0.82, 1500.0)  # past wait_for_words_ms: the words are on their way
    out = s.outputs()
    assert _commits(out) == [] and s.yielded
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 2.4)
    s.user_words("u2", "Stop.", 2.5)
    decided = [o for o in s.outputs() if isinstance(o, InterruptionDecided)]
    assert [(d.verdict, d.evidence.committed) for d in decided] == [("interruption", True)]


def test_no_commit_when_nothing_would_be_transcribed() -> None:
    deaf = _yielded_session(transcribes=False)
    _silence(deaf, 0.5, 600.0)
    assert _commits(deaf.outputs()) == []
    off = _yielded_session(BargeIn(decide=True, commit_after_silence_ms=None))
    _silence(off, 0.5, 600.0)
    assert _commits(off.outputs()) == []


def test_speech_the_server_heard_is_committed_without_waiting_for_its_silence_window() -> None:
    """The server's VAD has the user's turn open: its commit would come only after its own
    silence window (500 ms by default), and the paused reply would wait it out. The session
    commits ``commit_after_silence_ms`` after the user fell silent instead, and the speech
    still counts as heard by the server."""
    s = _speaking_session()
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=380, item_id="u2"), 0.45)
    s.user_speech(0.5, onset=0.38, source="local")
    _silence(s, 0.5, 180.0)  # the default BargeIn.commit_after_silence_ms is 200
    assert _commits(s.outputs()) == []
    _silence(s, 0.68, 40.0)
    assert len(_commits(s.outputs())) == 1
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 0.73)
    s.user_words("u2", "Yeah.", 0.74)
    decided = [o for o in s.outputs() if isinstance(o, InterruptionDecided)]
    assert [(d.verdict, d.evidence.server_heard) for d in decided] == [("backchannel", True)]


def _sent(out: Sequence[object], kind: type[_E]) -> list[_E]:
    return [o.event for o in out if isinstance(o, SendEvent) and isinstance(o.event, kind)]


def _verdicts(out: list[Any]) -> list[str]:
    """The verdicts of the decisions among ``out`` (a session's outputs), in order."""
    return [d.verdict for d in out if isinstance(d, InterruptionDecided)]


def _interrupted_by_our_commit() -> ClientSession:
    """The server's VAD heard "stop"; the session committed it itself (``u2``), the words
    made it an interruption, and the cancel went through."""
    s = _speaking_session()
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=380, item_id="u2"), 0.45)
    s.user_speech(0.5, onset=0.38, source="local")
    _silence(s, 0.5, 320.0)
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 0.83)
    s.user_words("u2", "Stop.", 0.84)
    s.receive(ev.ResponseDone(response=ev.ResponseInfo(id="r1", status="cancelled")), 0.9)
    return s


def test_the_answer_to_an_interruption_waits_for_the_end_of_the_turn() -> None:
    """Decided on the words of the user's first pause, the interruption is answered once the
    user has been silent as long as the server's turn detection takes to end a turn (500 ms
    by default), not while they may be about to go on."""
    s = _interrupted_by_our_commit()
    assert _sent(s.outputs(), ev.ResponseCreate) == []
    _silence(s, 0.9, 160.0)  # 480 ms of silence in all
    assert _sent(s.outputs(), ev.ResponseCreate) == []
    _silence(s, 1.06, 40.0)
    assert len(_sent(s.outputs(), ev.ResponseCreate)) == 1


def test_the_answer_waits_for_the_rest_of_what_the_user_said() -> None:
    """ "Wait," then, after the pause the decision was made in, "stop there please": the
    server's VAD opens a turn for the rest, and the answer waits for its commit, so that one
    reply answers both and none starts over the user."""
    s = _interrupted_by_our_commit()
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=900, item_id="u3"), 1.0)
    for k in range(40):  # 800 ms of "stop there please"
        s.user_heard(0.92 + 0.02 * k, True, 20.0)
    _silence(s, 1.72, 600.0)
    assert _sent(s.outputs(), ev.ResponseCreate) == []
    s.receive(ev.InputAudioBufferSpeechStopped(audio_end_ms=1720, item_id="u3"), 2.22)
    # Its commit is a separate event: time passes before it, and the answer still waits
    # (it used to go out here, and the commit's own then made two).
    s.tick(2.23)
    _silence(s, 2.23, 40.0)
    assert _sent(s.outputs(), ev.ResponseCreate) == []
    s.receive(ev.InputAudioBufferCommitted(item_id="u3"), 2.28)
    s.tick(2.29)
    out = s.outputs()
    assert len(_sent(out, ev.ResponseCreate)) == 1 and _sent(out, ev.ConversationItemDelete) == []


def test_a_later_commit_of_the_turn_we_committed_is_not_answered_again() -> None:
    """A service whose VAD keeps its turn open after our commit commits what followed it
    (the silence) when its silence window ends: that item holds nothing the decision has
    not taken, and is deleted, not answered a second time."""
    s = _interrupted_by_our_commit()
    _silence(s, 0.9, 200.0)
    assert len(_sent(s.outputs(), ev.ResponseCreate)) == 1
    s.receive(ev.InputAudioBufferSpeechStopped(audio_end_ms=700, item_id="u3"), 1.2)
    s.receive(ev.InputAudioBufferCommitted(item_id="u3"), 1.2)
    out = s.outputs()
    assert _sent(out, ev.ResponseCreate) == []
    assert [d.item_id for d in _sent(out, ev.ConversationItemDelete)] == ["u3"]


def test_a_later_commit_holding_more_speech_is_answered() -> None:
    """The user went on talking after our commit, into the turn the service kept open
    (no new ``speech_started``): that commit holds new words, the answer waits for it, and
    one reply answers both."""
    s = _interrupted_by_our_commit()
    s.speech_probable(0.92, True)
    for k in range(15):
        s.user_heard(0.92 + 0.02 * k, True, 20.0)
    _silence(s, 1.22, 700.0)
    assert _sent(s.outputs(), ev.ResponseCreate) == []
    s.receive(ev.InputAudioBufferCommitted(item_id="u3"), 1.95)
    s.tick(1.96)
    out = s.outputs()
    assert _sent(out, ev.ConversationItemDelete) == []
    assert len(_sent(out, ev.ResponseCreate)) == 1


def test_a_new_turn_after_a_dismissed_backchannel_is_answered() -> None:
    """The server committed the "yeah" before the decision dismissed it: no commit of it is
    still to come, so the next turn the server commits is the user's and is answered (it
    used to be deleted when it came within two seconds of the dismissal)."""
    s = _yielded_session()
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 0.7)
    s.user_words("u2", "Yeah.", 0.75)
    assert _verdicts(s.outputs()) == ["backchannel"]
    # A question the local detector did not take for a barge-in, committed while the
    # resumed reply plays: answered once the assistant is quiet.
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=1300, item_id="u3"), 1.4)
    s.receive(ev.InputAudioBufferSpeechStopped(audio_end_ms=1900, item_id="u3"), 2.4)
    s.receive(ev.InputAudioBufferCommitted(item_id="u3"), 2.4)
    assert _sent(s.outputs(), ev.ConversationItemDelete) == []
    s.receive(ev.ResponseOutputAudioDone(response_id="r1", item_id="a1"), 2.5)
    s.receive(ev.ResponseDone(response=ev.ResponseInfo(id="r1")), 2.5)
    s.playback_progress(48_000, 2.6)  # the whole reply played: the assistant is quiet
    assert len(_sent(s.outputs(), ev.ResponseCreate)) == 1


def test_the_commit_of_a_dismissed_backchannel_still_to_come_is_deleted() -> None:
    """The decision dismissed a "yeah" whose turn the server's VAD still has open (the
    session did not commit it: ``commit_after_silence_ms=None``): that turn's commit, when
    it comes, is deleted, not answered."""
    s = _speaking_session(BargeIn(decide=True, commit_after_silence_ms=None,
                                  classifier=ScriptedClassifier("backchannel",
                                                                after_ms=300.0)))
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=380, item_id="u2"), 0.45)
    s.user_speech(0.5, onset=0.38, source="local")
    _silence(s, 0.5, 400.0)
    assert _verdicts(s.outputs()) == ["backchannel"]
    s.receive(ev.InputAudioBufferSpeechStopped(audio_end_ms=700, item_id="u2"), 1.2)
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 1.2)
    out = s.outputs()
    assert [d.item_id for d in _sent(out, ev.ConversationItemDelete)] == ["u2"]
    assert _sent(out, ev.ResponseCreate) == []


def test_a_refused_commit_does_not_leave_the_decision_waiting() -> None:
    s = _yielded_session()
    _silence(s, 0.5, 300.0)
    (commit,) = _commits(s.outputs())
    s.receive(ev.ServerError(error=ev.ErrorInfo(
        type="invalid_request_error", code="input_audio_buffer_commit_empty",
        message="buffer too small", event_id=commit.event_id)), 0.85)
    out = s.outputs()
    errors = [o for o in out if isinstance(o, ErrorOccurred)]
    assert [e.benign for e in errors] == [True]
    _silence(s, 0.86, 700.0)  # wait_for_words_ms after the user fell silent: the guess
    decided = [o for o in s.outputs() if isinstance(o, InterruptionDecided)]
    assert [(d.verdict, d.evidence.committed) for d in decided] == [("interruption", False)]


def test_committed_speech_waits_for_its_words() -> None:
    committed = attrs.evolve(_evidence(silent_ms=3000.0, speaking=False), committed=True)
    assert LexiconClassifier().decide(committed) is None


def test_once_the_words_are_on_their_way_they_decide_not_the_duration() -> None:
    """The server committed the user's "oh, okay" and its transcript is slow: babble taken
    for speech while it comes pushes the speech count past ``max_backchannel_ms``, and that
    used to make the backchannel a turn (the reply cut, the backchannel answered). The words
    decide instead. Without transcription no words come, and the duration still does."""
    s = _yielded_session()
    for k in range(32):  # the user talks 640 ms more: 760 ms of speech in all
        s.user_heard(0.52 + 0.02 * k, True, 20.0)
    _silence(s, 1.16, 500.0)
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 1.7)
    for k in range(4):  # babble, 80 ms of it taken for the user
        s.user_heard(1.72 + 0.02 * k, True, 20.0)
    _silence(s, 1.8, 300.0)
    assert s.yielded and not [o for o in s.outputs() if isinstance(o, InterruptionDecided)]
    s.user_words("u2", "Oh, okay.", 2.1)
    decided = [o for o in s.outputs() if isinstance(o, InterruptionDecided)]
    assert [(d.verdict, d.evidence.speech_ms > 800.0) for d in decided] == [
        ("backchannel", True)]

    deaf = _yielded_session(transcribes=False)
    for k in range(36):
        deaf.user_heard(0.52 + 0.02 * k, True, 20.0)
    deaf.receive(ev.InputAudioBufferCommitted(item_id="u2"), 1.3)
    for k in range(4):
        deaf.user_heard(1.3 + 0.02 * k, True, 20.0)
    decided = [o for o in deaf.outputs() if isinstance(o, InterruptionDecided)]
    assert [d.verdict for d in decided] == ["interruption"]


def test_the_duration_rule_waits_while_words_are_coming() -> None:
    classifier = LexiconClassifier(max_backchannel_ms=800.0)
    coming = attrs.evolve(_evidence(speech_ms=900.0), awaiting_words=True)
    assert classifier.decide(coming) is None
    came = attrs.evolve(coming, awaiting_words=False)
    assert classifier.decide(attrs.evolve(came, transcript="oh okay",
                                          speaking=False)) == "backchannel"
    # "Yeah" while they are still talking, past a backchannel's length: the rest decides.
    assert classifier.decide(attrs.evolve(came, transcript="yeah")) is None
    assert classifier.decide(attrs.evolve(came, transcript="yeah but")) == "interruption"
    # Another commit's words still on their way: backchannel words wait for them.
    assert classifier.decide(attrs.evolve(coming, transcript="oh okay",
                                          speaking=False)) is None


def test_speech_after_the_commit_decides_with_its_own_words() -> None:
    """ "Yeah", a pause long enough for realtalk's commit, then more: the words of "yeah"
    alone do not make it a backchannel while there is more speech than they cover."""
    classifier = LexiconClassifier(max_backchannel_ms=800.0, more_speech_ms=120.0)
    yeah = _evidence(speech_ms=300.0, silent_ms=250.0, speaking=False, transcript="Yeah.")
    assert classifier.decide(attrs.evolve(yeah, uncommitted_ms=0.0)) == "backchannel"
    assert classifier.decide(attrs.evolve(yeah, uncommitted_ms=100.0)) == "backchannel"
    assert classifier.decide(attrs.evolve(yeah, uncommitted_ms=200.0)) is None
    assert classifier.decide(attrs.evolve(yeah, transcript="Stop.",
                                          uncommitted_ms=200.0)) == "interruption"


def test_yeah_then_more_after_a_pause_is_one_decision() -> None:
    """The session's side: "yeah" is committed after the pause, the user goes on ("but
    what about Tuesday?"), and that is committed too once they fall silent again; the words
    of both decide: an interruption, not a backchannel and a reply over the user."""
    s = _yielded_session()
    _silence(s, 0.5, 220.0)
    assert len(_commits(s.outputs())) == 1
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 0.73)
    for k in range(15):  # "but what about Tuesday": 300 ms more
        s.user_heard(0.74 + 0.02 * k, True, 20.0)
    s.user_words("u2", "Yeah.", 0.9)
    assert s.yielded  # the rest's words decide with these
    _silence(s, 1.04, 220.0)
    assert len(_commits(s.outputs())) == 1
    s.receive(ev.InputAudioBufferCommitted(item_id="u3"), 1.27)
    s.user_words("u3", "But what about Tuesday?", 1.3)
    decided = [o for o in s.outputs() if isinstance(o, InterruptionDecided)]
    assert [(d.verdict, d.evidence.transcript) for d in decided] == [
        ("interruption", "Yeah. But what about Tuesday?")]


def test_an_item_both_echo_and_dismissed_is_deleted_once() -> None:
    """The transcript filters dropped the yielded speech's item as echo (deleted), then the
    decision dismisses the speech: the item is not deleted a second time (the server would
    answer with an error)."""
    s = _yielded_session(BargeIn(decide=True, classifier=ScriptedClassifier(
        "noise", after_ms=1000.0)))
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 0.9)
    s.echo_item("u2", 1.0)
    _silence(s, 1.0, 600.0)
    out = s.outputs()
    deletes = [o.event for o in out
               if isinstance(o, SendEvent) and isinstance(o.event, ev.ConversationItemDelete)]
    assert [d.item_id for d in deletes] == ["u2"]
    assert _verdicts(out) == ["noise"]


def test_words_the_echo_filters_dropped_decide_at_once() -> None:
    """The yielded speech's item was the assistant's own voice (the transcript filters
    dropped it): its words will not come, and the decision does not wait them out
    (``max_yield_ms``, then an interruption): the speech was echo, so the reply plays on."""
    s = _yielded_session()
    _silence(s, 0.5, 220.0)  # the session commits the speech for its words
    assert len(_commits(s.outputs())) == 1
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 0.75)
    s.echo_item("u2", 0.8)
    out = s.outputs()
    decided = [o for o in out if isinstance(o, InterruptionDecided)]
    assert [(d.verdict, d.decided) for d in decided] == [("noise", 0.8)]
    assert any(isinstance(o, ResumePlayback) for o in out)


def _checked_session(barge_in: BargeIn | None = None) -> ClientSession:
    """:func:`_speaking_session`, ducked at 0.38 s by probable speech that ended unconfirmed
    (80 ms, 40 of it voiced) and handed on at 0.54 s for a check."""
    s = _speaking_session(barge_in)
    s.speech_probable(0.38, True)
    s.short_speech(0.54, ShortSpeech(onset=0.38, speech_ms=80.0, voiced_ms=40.0,
                                     silent_ms=80.0))
    s.speech_probable(0.54, False)
    out = s.outputs()
    assert s.yielded and s.stats.checks == 1
    # The duck at 0.38 s, restored when the run ended: no pause, the reply plays on.
    gains = [o.gain for o in out if isinstance(o, DuckPlayback)]
    depth = BargeIn().duck_gain_db
    assert depth is not None
    assert gains == [pytest.approx(10 ** (depth / 20)), 1.0]
    assert not any(isinstance(o, PausePlayback) for o in out)
    return s


def test_a_short_stop_the_detector_never_confirmed_stops_the_reply_on_its_words() -> None:
    """The run was too short to confirm: the reply plays on, ducked, while the session
    commits the audio; the words "Stop." make it an interruption, and the reply stops."""
    s = _checked_session()
    _silence(s, 0.54, 120.0)  # 80 + 120 ms: BargeIn.commit_after_silence_ms
    assert len(_commits(s.outputs())) == 1
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 0.7)
    s.user_words("u2", "Stop.", 0.75)
    out = s.outputs()
    decided = [o for o in out if isinstance(o, InterruptionDecided)]
    assert [(d.verdict, d.evidence.confirmed) for d in decided] == [("interruption", False)]
    assert any(isinstance(o, StopPlayback) for o in out)
    assert [e.response_id for e in _sent(out, ev.ResponseCancel)] == ["r1"]


@pytest.mark.parametrize(("words", "verdict"), [("Yeah.", "backchannel"), ("", "noise")])
def test_a_checked_backchannel_or_noise_leaves_the_reply_playing_and_is_forgotten(
        words: str, verdict: str) -> None:
    s = _checked_session()
    _silence(s, 0.54, 120.0)
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 0.7)
    s.user_words("u2", words, 0.75)
    out = s.outputs()
    assert _verdicts(out) == [verdict]
    assert not any(isinstance(o, (ResumePlayback, StopPlayback, DuckPlayback)) for o in out)
    assert [d.item_id for d in _sent(out, ev.ConversationItemDelete)] == ["u2"]
    assert _sent(out, ev.ResponseCreate) == [] and not s.yielded


def _outputs_on_words(s: ClientSession, text: str, *, silent: tuple[float, float],
                       committed: float, at: float, **judged: bool) -> list[Any]:
    """The user falls silent (``silent``: from when, for how long: the session commits), the
    commit is confirmed at ``committed``, the words ``text`` come at ``at`` with the engine's
    judgements of them (``assistant_said``, ``echo_of_playback``); the session's outputs."""
    _silence(s, *silent)
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), committed)
    s.user_words("u2", text, at, **judged)
    return s.outputs()



def test_a_command_the_assistant_has_just_said_does_not_stop_it() -> None:
    """The check's words are a command, but the assistant's own ("keep it quiet"): its
    voice transcribed back, not the user's. A confirmed yield is not second-guessed so."""
    out = _outputs_on_words(_checked_session(), "Quiet.", silent=(0.54, 120.0),
                             committed=0.7, at=0.75, assistant_said=True)
    assert _verdicts(out) == ["noise"]
    out = _outputs_on_words(_yielded_session(), "Stop.", silent=(0.5, 220.0),
                             committed=0.75, at=0.8, assistant_said=True)
    assert _verdicts(out) == ["interruption"]


def test_a_yields_words_that_are_the_playback_over_it_are_noise_and_the_reply_resumes(
) -> None:
    """A confirmed yield is decided on the words played over its own speech only
    (``echo_of_playback``: babble over the reply, transcribed as the words it was playing):
    noise, and the paused reply resumes instead of being cancelled. Words the assistant said
    earlier in the reply (``assistant_said`` alone: a user repeating it back) still stop it."""
    y = _yielded_session()
    assert y.decision_onset is not None
    out = _outputs_on_words(y, "busy town", silent=(0.5, 220.0), committed=0.75, at=0.8,
                             assistant_said=True, echo_of_playback=True)
    assert _verdicts(out) == ["noise"]
    assert any(isinstance(o, ResumePlayback) for o in out)
    assert _sent(out, ev.ResponseCancel) == [] and y.decision_onset is None
    # The same words on a check are judged by assistant_said, as before.
    out = _outputs_on_words(_checked_session(), "Stop.", silent=(0.54, 120.0),
                             committed=0.7, at=0.75, echo_of_playback=True)
    assert _verdicts(out) == ["interruption"]


def test_a_check_with_no_words_ever_is_noise_not_an_interruption() -> None:
    """The words never come (the commit was refused as empty): an unconfirmed blip is not
    the user's turn, so the reply is not stopped for it."""
    s = _checked_session()
    _silence(s, 0.54, 120.0)
    commit = _commits(s.outputs())[0]
    s.receive(ev.ServerError(error=ev.ErrorInfo(
        type="invalid_request_error", code="input_audio_buffer_commit_empty",
        message="buffer too small", event_id=commit.event_id)), 0.7)
    _silence(s, 0.7, 1200.0)
    out = s.outputs()
    assert _verdicts(out) == ["noise"]
    assert not any(isinstance(o, StopPlayback) for o in out)


def test_speech_confirmed_during_a_check_pauses_the_reply() -> None:
    s = _checked_session()
    s.user_speech(0.7, onset=0.58, source="local")
    out = s.outputs()
    assert any(isinstance(o, PausePlayback) for o in out) and s.yielded
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 1.0)
    s.user_words("u2", "Yeah.", 1.05)
    out = s.outputs()
    decided = [o for o in out if isinstance(o, InterruptionDecided)]
    assert [(d.verdict, d.evidence.confirmed, d.yielded) for d in decided] == [
        ("backchannel", True, 0.7)]
    assert any(isinstance(o, ResumePlayback) for o in out)


def test_no_check_where_no_words_would_decide_it() -> None:
    short = ShortSpeech(onset=0.38, speech_ms=80.0, voiced_ms=40.0, silent_ms=80.0)
    for s in (_speaking_session(transcribes=False),
              _speaking_session(BargeIn(decide=False)),
              _speaking_session(BargeIn(commit_after_silence_ms=None))):
        s.short_speech(0.54, short)
        assert not s.yielded and s.stats.checks == 0
    quiet = ClientSession(SessionConfig(), barge_in=BargeIn())
    quiet.open(0.0)
    quiet.short_speech(0.54, short)  # the assistant is not speaking
    assert not quiet.yielded


def test_a_reply_that_ends_during_a_check_ends_and_a_stop_then_is_a_turn() -> None:
    """The check does not pause the reply, so the reply can end while it is pending: the
    session goes quiet at once (a paused yield would hold it), and the "Stop." that comes
    after is the user's turn, answered, with no cancel of a reply already over."""
    s = _checked_session()
    s.receive(ev.ResponseOutputAudioDone(response_id="r1", item_id="a1"), 0.6)
    s.receive(ev.ResponseDone(response=ev.ResponseInfo(id="r1")), 0.6)
    s.playback_progress(48_000, 0.62)
    assert s.state is State.LISTENING and s.yielded
    _silence(s, 0.62, 120.0)
    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 0.8)
    s.user_words("u2", "Stop.", 0.85)
    out = s.outputs()
    assert _verdicts(out) == ["interruption"]
    assert _sent(out, ev.ResponseCancel) == [] and not any(isinstance(o, StopPlayback)
                                                           for o in out)
    _silence(s, 0.86, 600.0)  # the answer waits for the end of the user's turn
    assert len(_sent(s.outputs(), ev.ResponseCreate)) == 1
