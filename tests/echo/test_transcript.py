"""Transcript-level echo filters: echoes dropped, real utterances that share words kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from realtalk import (
    AssistantTranscript,
    AssistantTranscriptDelta,
    Interrupted,
    InterruptionLatency,
    PlaybackPosition,
    ResponseAudioStarted,
    State,
    StateChanged,
    UserSpeechStarted,
    UserTranscript,
)
from realtalk.echo.transcript import (
    AssistantSpeech,
    AssistantSpeechHistory,
    EchoTranscriptDropped,
    SimilarityFilter,
    TimingFilter,
    TranscriptContext,
    TranscriptFilterChain,
    TranscriptVerdict,
    default_transcript_filters,
    heard_part,
    normalize,
)
from realtalk.errors import ConfigurationError

FORECAST = ("The forecast for Saturday is sunny with a high of 75 degrees. "
            "There's a light breeze from the west and no rain expected until Monday.")
T0 = 100.0  # playback start
DURATION = 9.0  # seconds of audio for FORECAST


def _speech(*, ended: float | None = T0 + DURATION, text: str = FORECAST,
            heard_ms: float | None = None, interrupted: bool = False) -> AssistantSpeech:
    audio_ms = DURATION * 1000.0
    heard = heard_part(text, heard_ms, audio_ms) if interrupted else text
    return AssistantSpeech(item_id="item_ai", text=text, heard_text=heard, started_at=T0,
                           ended_at=ended, interrupted=interrupted, heard_ms=heard_ms,
                           audio_ms=audio_ms)


def _context(*, at: float, onset: float | None = None, audio: bool | None = None,
             speech: AssistantSpeech | None = None) -> TranscriptContext:
    return TranscriptContext(at=at, speeches=(speech or _speech(),), speech_started_at=onset,
                             audio_near_end=audio)


# -- normalisation and the heard part -------------------------------------------------------------


def test_normalize_spells_numbers_and_expands_contractions() -> None:
    """Digits become words, contractions expand, punctuation and case go."""
    assert normalize("It's 75°, what's 2.5% of 1,000?") == [
        "it", "is", "seventy", "five", "what", "is", "two", "point", "five", "percent", "of",
        "one", "thousand"]
    assert normalize("There won't be any CHARGE.") == ["there", "will", "not", "be", "any",
                                                       "charge"]


def test_heard_part_is_proportional_and_ends_on_a_word() -> None:
    """Half the audio heard: about half the text, cut at the end of a word; None: all."""
    text = "one two three four five six seven eight"
    half = heard_part(text, 2000.0, 4000.0)
    assert text.startswith(half)
    assert half.split()[-1] in text.split()
    assert 3 <= len(half.split()) <= 5
    assert heard_part(text, None, 4000.0) == text
    assert heard_part(text, 0.0, 4000.0) == "one"  # the word being played counts as heard
    assert len(heard_part(text, 2000.0, 4000.0, margin_ms=1000.0)) > len(half)


def test_heard_words_from_places_words_in_time() -> None:
    """Words played from a time on: late in the item only the end, before the start all."""
    speech = _speech()
    assert speech.heard_words_from(T0 - 1.0) == normalize(FORECAST)
    tail = speech.heard_words_from(T0 + DURATION - 1.0)
    assert 1 <= len(tail) <= 5
    assert tail == normalize(FORECAST)[-len(tail):]
    assert speech.heard_words_from(T0 + DURATION + 1.0) == []


# -- the history fed with conversation events -----------------------------------------------------


def _feed_reply(history: AssistantSpeechHistory, *, interrupted_at: float | None) -> None:
    history.observe(ResponseAudioStarted(response_id="r1", item_id="a1", latency_ms=None,
                                         at=T0))
    for i, word in enumerate(FORECAST.split(" ")):
        history.observe(AssistantTranscriptDelta(response_id="r1", item_id="a1",
                                                 delta=word if i == 0 else " " + word))
    history.observe(PlaybackPosition(item_id="a1", content_index=0, heard_ms=1000.0,
                                     received_ms=DURATION * 1000.0, at=T0 + 1.0))
    if interrupted_at is None:
        history.observe(AssistantTranscript(response_id="r1", item_id="a1", text=FORECAST,
                                            interrupted=False, heard_ms=None, at=T0 + 2.0))
        history.observe(StateChanged(old=State.SPEAKING, new=State.LISTENING,
                                     at=T0 + DURATION))
        return
    heard_ms = (interrupted_at - T0) * 1000.0
    latency = InterruptionLatency(onset=interrupted_at - 0.2, detected=interrupted_at - 0.05,
                                  playback_stopped=interrupted_at)
    history.observe(Interrupted(response_id="r1", item_id="a1", source="local",
                                heard_ms=heard_ms, received_ms=DURATION * 1000.0,
                                truncate_ms=int(heard_ms), cancel_sent=True, timed_out=False,
                                latency=latency))
    history.observe(AssistantTranscript(response_id="r1", item_id="a1", text=FORECAST,
                                        interrupted=True, heard_ms=heard_ms,
                                        at=interrupted_at + 0.1))


def test_history_keeps_a_played_out_reply_whole() -> None:
    """A reply played to its end was heard in full, and ended when the state left speaking."""
    history = AssistantSpeechHistory()
    _feed_reply(history, interrupted_at=None)
    (speech,) = history.speeches(T0 + 12.0)
    assert speech.heard_text == FORECAST
    assert speech.started_at == T0
    assert speech.ended_at == T0 + DURATION
    assert speech.audio_ms == DURATION * 1000.0
    assert not speech.audio_estimated


def test_history_cuts_an_interrupted_reply_at_what_was_heard() -> None:
    """Interrupted after 3 s of 9: about a third of the text (plus a word) was heard."""
    history = AssistantSpeechHistory()
    _feed_reply(history, interrupted_at=T0 + 3.0)
    (speech,) = history.speeches(T0 + 4.0)
    assert speech.interrupted
    assert speech.ended_at == T0 + 3.0
    heard = normalize(speech.heard_text)
    assert heard[:4] == ["the", "forecast", "for", "saturday"]
    assert "monday" not in heard
    assert 5 <= len(heard) <= 12


def test_history_extrapolates_a_reply_still_playing() -> None:
    """While it plays, the heard part follows the clock past the last reported position."""
    history = AssistantSpeechHistory()
    history.observe(ResponseAudioStarted(response_id="r1", item_id="a1", latency_ms=None,
                                         at=T0))
    history.observe(AssistantTranscriptDelta(response_id="r1", item_id="a1", delta=FORECAST))
    history.observe(PlaybackPosition(item_id="a1", content_index=0, heard_ms=500.0,
                                     received_ms=DURATION * 1000.0, at=T0 + 0.5))
    early = history.speeches(T0 + 0.5)[0]
    later = history.speeches(T0 + 6.0)[0]
    assert early.ended_at is None
    assert len(later.heard_text) > len(early.heard_text) + 20


def test_history_forgets_old_replies() -> None:
    """A reply that ended longer than keep_s ago is not part of the context."""
    history = AssistantSpeechHistory(keep_s=5.0)
    _feed_reply(history, interrupted_at=None)
    assert history.speeches(T0 + DURATION + 4.0)
    assert history.speeches(T0 + DURATION + 6.0) == ()


def test_history_gives_a_transcript_the_onset_that_started_it() -> None:
    """The onset of the utterance comes from the detector's event, and is used up by its
    transcript: the next transcript without an onset has none."""
    history = AssistantSpeechHistory()
    _feed_reply(history, interrupted_at=None)
    history.observe(UserSpeechStarted(source="local", at=T0 + 10.0))
    first = UserTranscript(item_id="u1", text="what about sunday", at=T0 + 12.0)
    assert history.context_for(first).speech_started_at == T0 + 10.0
    history.observe(first)
    second = UserTranscript(item_id="u2", text="and monday", at=T0 + 20.0)
    assert history.context_for(second).speech_started_at is None
    given = history.context_for(second, speech_started_at=T0 + 18.5)
    assert given.speech_started_at == T0 + 18.5


def test_history_takes_the_onset_of_a_barge_in() -> None:
    """An interruption's onset is the start of the utterance that follows it."""
    history = AssistantSpeechHistory()
    _feed_reply(history, interrupted_at=T0 + 3.0)
    context = history.context_for(UserTranscript(item_id="u1", text="wait", at=T0 + 4.5),
                                  audio_near_end=True)
    assert context.speech_started_at == pytest.approx(T0 + 2.8)
    assert context.audio_near_end is True


def test_history_rejects_bad_settings() -> None:
    """Non-positive sizes are configuration errors naming the values."""
    with pytest.raises(ConfigurationError, match="keep_s=0"):
        AssistantSpeechHistory(keep_s=0)


# -- the similarity filter ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "onset"), [
    ("the forecast for saturday is sunny", T0 + 0.1),
    ("cast four saturday is sunny with a high", T0 + 0.5),  # cut first word, homophone
    ("a high of seventy five degrees", T0 + 3.0),  # the ASR spells the number
    ("there is a light breeze from the west", T0 + 4.6),
    ("breeze from the vest and no rain expected", T0 + 5.5),  # one substitution
])
def test_similarity_drops_echo_fragments(text: str, onset: float) -> None:
    """Fragments of what the assistant just said, with ASR slips, are dropped."""
    verdict = SimilarityFilter().judge(text, _context(at=onset + 2.5, onset=onset))
    assert verdict.drop, verdict.reason
    assert verdict.filter == "similarity"
    assert verdict.score >= 0.8


@pytest.mark.parametrize("text", [
    "no I said the forecast for Sunday not Saturday",
    "what about the forecast for Sunday",
    "a high of 75 sounds great thanks",
    "is there any rain expected on Sunday",
    "sorry what was the high for Saturday",
    "can you check the forecast for next week",
])
def test_similarity_keeps_real_utterances_that_share_words(text: str) -> None:
    """A user who reuses several of the assistant's words, with words of their own, is kept,
    whether their onset is known or not."""
    for onset in (T0 + 4.0, None):
        verdict = SimilarityFilter().judge(text, _context(at=T0 + 7.0, onset=onset))
        assert not verdict.drop, verdict.reason


def test_similarity_compares_only_the_last_words_when_the_onset_is_known() -> None:
    """Repeating back a phrase said seconds before one's own onset is kept; the same words
    arriving as the assistant plays them are dropped."""
    text = "the forecast for saturday is sunny"
    repeat = SimilarityFilter().judge(text, _context(at=T0 + 8.0, onset=T0 + 5.5))
    echo = SimilarityFilter().judge(text, _context(at=T0 + 3.0, onset=T0 + 0.2))
    assert not repeat.drop, repeat.reason
    assert echo.drop, echo.reason


def test_similarity_ignores_speech_older_than_its_window() -> None:
    """Speech that ended more than window_s before the transcript is not compared."""
    old = _speech(ended=T0 + DURATION)
    verdict = SimilarityFilter(window_s=5.0, lookback_s=None).judge(
        "the forecast for saturday is sunny",
        _context(at=T0 + DURATION + 6.0, speech=old))
    assert not verdict.drop
    assert "nothing heard" in verdict.reason


def test_similarity_is_strict_when_the_audio_says_user() -> None:
    """With the gate's word that it was the user, a short exact repeat is kept and only a
    long exact match is dropped."""
    context = _context(at=T0 + 4.0, onset=T0 + 0.1, audio=True)
    short = SimilarityFilter().judge("the forecast for saturday", context)
    long = SimilarityFilter().judge("the forecast for saturday is sunny with a high", context)
    assert not short.drop, short.reason
    assert long.drop, long.reason


@pytest.mark.parametrize("make", [TimingFilter, SimilarityFilter])
def test_a_garbled_echo_is_dropped_when_the_audio_says_echo(
        make: type[TimingFilter | SimilarityFilter]) -> None:
    """A faint echo comes back from the recogniser with inserted words. Text alone keeps it
    (too many new words to be sure); with the audio's word that no user was heard, it goes."""
    text = "the forecast window for saturday pencil is sunny with garden a high planet"
    onset = T0 + 0.1
    unsure = make().judge(text, _context(at=T0 + 4.0, onset=onset))
    echo = make().judge(text, _context(at=T0 + 4.0, onset=onset, audio=False))
    assert not unsure.drop, unsure.reason
    assert echo.drop, echo.reason


# -- the timing filter ----------------------------------------------------------------------------


def test_timing_drops_words_played_from_the_onset_on() -> None:
    """An utterance that starts as the assistant plays those very words is echo."""
    verdict = TimingFilter().judge("sunny with a high of seventy five",
                                   _context(at=T0 + 5.0, onset=T0 + 2.0))
    assert verdict.drop, verdict.reason
    assert verdict.filter == "timing"


def test_timing_keeps_a_barge_in_that_quotes_earlier_words() -> None:
    """The user talks over the assistant quoting what it said before: kept, though every
    word is the assistant's."""
    verdict = TimingFilter().judge("the forecast for saturday",
                                   _context(at=T0 + 6.5, onset=T0 + 5.0))
    assert not verdict.drop, verdict.reason


def test_timing_keeps_an_utterance_that_starts_after_the_window() -> None:
    """Starting well after playback ended, even the assistant's last words are the user's."""
    verdict = TimingFilter(after_s=0.5).judge(
        "no rain expected until monday", _context(at=T0 + DURATION + 4.0,
                                                  onset=T0 + DURATION + 2.0))
    assert not verdict.drop
    assert "not during or just after playback" in verdict.reason


def test_timing_estimates_an_unknown_onset() -> None:
    """Without an onset, one is estimated back from the transcript's arrival."""
    verdict = TimingFilter().judge("no rain expected until monday",
                                   _context(at=T0 + DURATION + 1.0))
    assert verdict.drop, verdict.reason
    assert "estimated onset" in verdict.reason


# -- shared rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [TimingFilter, SimilarityFilter])
def test_short_transcripts_follow_the_audio(make: type[TimingFilter | SimilarityFilter]) -> None:
    """"sunny", just played: kept when the audio is unknown or says user, dropped when the
    audio says echo; a word the assistant did not say is kept even then."""
    f = make()
    at, onset = T0 + 2.5, T0 + 1.8
    assert not f.judge("sunny", _context(at=at, onset=onset)).drop
    assert not f.judge("sunny", _context(at=at, onset=onset, audio=True)).drop
    dropped = f.judge("sunny", _context(at=at, onset=onset, audio=False))
    assert dropped.drop, dropped.reason
    assert "audio" in dropped.reason
    assert not f.judge("banana", _context(at=at, onset=onset, audio=False)).drop


@pytest.mark.parametrize("make", [TimingFilter, SimilarityFilter])
@pytest.mark.parametrize("text", ["stop", "Wait, wait!", "no", "hold on", "okay stop please"])
def test_allowlisted_words_are_never_dropped(make: type[TimingFilter | SimilarityFilter],
                                             text: str) -> None:
    """Interrupting words are kept even when the assistant said them and the audio says
    echo."""
    speech = _speech(text="Please stop, wait, no, hold on, okay.", ended=None)
    verdict = make().judge(text, _context(at=T0 + 1.0, onset=T0 + 0.1, audio=False,
                                          speech=speech))
    assert not verdict.drop
    assert "allowlisted" in verdict.reason


def test_hesitations_alone_are_no_words() -> None:
    """"Um, uh" carries no words to judge: kept."""
    verdict = SimilarityFilter().judge("um, uh", _context(at=T0 + 2.0, audio=False))
    assert not verdict.drop
    assert "no words" in verdict.reason


def test_filters_reject_bad_settings() -> None:
    """Fractions outside 0..1 and negative windows are configuration errors."""
    with pytest.raises(ConfigurationError, match=r"min_score=1\.5"):
        SimilarityFilter(min_score=1.5)
    with pytest.raises(ConfigurationError, match="slack_s=-1"):
        TimingFilter(slack_s=-1)


# -- the chain ------------------------------------------------------------------------------------


class _Fixed:
    def __init__(self, name: str, drop: bool) -> None:
        self._name = name
        self.drop = drop

    @property
    def name(self) -> str:
        return self._name

    def judge(self, text: str, context: TranscriptContext) -> TranscriptVerdict:
        return TranscriptVerdict(filter=self._name, drop=self.drop, reason="fixed",
                                 score=float(self.drop))


def test_chain_reports_every_verdict_and_the_first_drop_decides() -> None:
    """All filters judge; the first that drops is the one that decides."""
    chain = TranscriptFilterChain([_Fixed("a", False), _Fixed("b", True), _Fixed("c", True)])
    judgement = chain.judge("anything", _context(at=T0))
    assert [v.filter for v in judgement.verdicts] == ["a", "b", "c"]
    assert judgement.drop
    assert judgement.dropped_by is not None
    assert judgement.dropped_by.filter == "b"
    kept = TranscriptFilterChain([_Fixed("a", False)]).judge("anything", _context(at=T0))
    assert not kept.drop
    assert kept.dropped_by is None


def test_chain_screen_gives_the_event_to_emit() -> None:
    """A dropped transcript becomes an EchoTranscriptDropped carrying the verdicts; a kept
    one gives none."""
    chain = default_transcript_filters()
    echo = UserTranscript(item_id="u1", text="the forecast for saturday is sunny", at=T0 + 3.0)
    judgement, event = chain.screen(echo, _context(at=echo.at, onset=T0 + 0.2))
    assert isinstance(event, EchoTranscriptDropped)
    assert event.item_id == "u1"
    assert event.text == echo.text
    assert event.verdicts == judgement.verdicts
    assert event.verdict.drop
    real = UserTranscript(item_id="u2", text="no I said the forecast for Sunday not Saturday",
                          at=T0 + 6.0)
    judgement, event = chain.screen(real, _context(at=real.at, onset=T0 + 3.5))
    assert event is None
    assert len(judgement.verdicts) == 2


def test_history_uses_up_onsets_on_a_dropped_transcript() -> None:
    """EchoTranscriptDropped, observed in place of the transcript, uses up its onset too."""
    history = AssistantSpeechHistory()
    history.observe(UserSpeechStarted(source="local", at=T0))
    assert history.onset_before(T0 + 1.0) == T0
    history.observe(EchoTranscriptDropped(
        item_id="u1", text="x", at=T0 + 1.0,
        verdict=TranscriptVerdict(filter="f", drop=True, reason="r"), verdicts=()))
    assert history.onset_before(T0 + 2.0) is None


# -- the benchmark corpus -------------------------------------------------------------------------

_BENCHMARKS = str(Path(__file__).resolve().parents[2] / "benchmarks")


def test_default_chain_on_a_small_benchmark_corpus() -> None:
    """On 200 echoes and 200 real utterances (held-out seed), the default chain drops no real
    utterance and most echoes of 3+ words, and short echoes only with the audio's word."""
    sys.path.insert(0, _BENCHMARKS)
    try:
        import transcript_filters as bench
    finally:
        sys.path.remove(_BENCHMARKS)
    result = bench.report(seed=2024, cases=200)
    text_only = result["text_only"]["chain"]
    assert text_only["real_dropped"] == 0
    assert text_only["recall_3plus"] >= 0.8
    assert text_only["recall_short"] == 0.0
    with_audio = result["with_audio"]["chain"]
    assert with_audio["recall_short"] >= 0.5
    assert with_audio["precision"] >= 0.98
