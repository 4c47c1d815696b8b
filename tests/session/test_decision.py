"""The interruption decision's default judge: duration first, then the words."""

from __future__ import annotations

import attrs
import pytest

from realtalk import BargeIn, Evidence, InterruptionDecided, LexiconClassifier
from realtalk import wire as ev
from realtalk.errors import ConfigurationError
from realtalk.session import ClientSession, PausePlayback, ResumePlayback, SendEvent
from realtalk.session.decision import words_of
from realtalk.testing import ScriptedClassifier


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
