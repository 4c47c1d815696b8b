"""Transcript-level echo filters: is this "user" transcript the assistant's own voice, heard back?

The last line of defence against echo. When the canceller and the gate let the assistant's voice
through, the server transcribes it as if the user had spoken, and the model answers itself. The
filters here compare each user transcript with what the assistant said *audibly and recently*:

- :class:`TimingFilter`: the utterance started while the assistant played (or within a short
  window after it stopped, the room's delay and the detector's slack) **and** its words are
  the words the assistant played from that moment on. Echo can only repeat what the speaker
  played after the echo began, while a user who talks over the assistant quotes what they
  already heard: that is what keeps "no, I said Sunday, not Saturday" from being dropped.
- :class:`SimilarityFilter`: the words match, fuzzily and in order, the assistant's recently
  heard words (token containment, a best-aligned fuzzy substring with :mod:`difflib`, bigrams),
  and nearly none of them are new.

Rules shared by both, so that a real user is not silenced:

- transcripts of at least ``min_text_tokens`` (3) words are judged on their text;
- shorter ones ("yes", "sunny?") are never dropped on text alone: they follow the audio-level
  opinion (:attr:`TranscriptContext.audio_near_end`), dropped only when the audio said echo,
  kept when it is unknown;
- a transcript made only of allowlisted words ("stop", "wait", "no", ...) is never dropped.

What the assistant said comes from :class:`AssistantSpeechHistory`, fed with the conversation's
events. Without word timings, the heard part of an interrupted item is estimated from its text
in proportion to ``heard_ms`` over the item's audio length (see :func:`heard_part`); words are
placed in time the same way.

Filters compose in a :class:`TranscriptFilterChain` (first drop wins, every verdict kept); a
drop is reported as an :class:`EchoTranscriptDropped` event so that an app can audit echo.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Protocol

import attrs

from ..errors import ConfigurationError
from ..session.outputs import (
    AssistantTranscript,
    AssistantTranscriptDelta,
    Interrupted,
    PlaybackPosition,
    ResponseAudioStarted,
    StateChanged,
    UserSpeechStarted,
    UserTranscript,
)
from ..session.state import State

__all__ = (
    "AssistantSpeech",
    "AssistantSpeechHistory",
    "TranscriptContext",
    "TranscriptVerdict",
    "TranscriptFilter",
    "TimingFilter",
    "SimilarityFilter",
    "TranscriptFilterChain",
    "TranscriptJudgement",
    "EchoTranscriptDropped",
    "DEFAULT_ALLOWLIST",
    "default_transcript_filters",
    "heard_part",
    "normalize",
)

logger = logging.getLogger("realtalk.echo.transcript")

DEFAULT_ALLOWLIST: frozenset[str] = frozenset({
    "stop", "wait", "no", "nope", "hold", "on", "hang", "pause", "cancel", "enough", "quiet",
    "sorry", "excuse", "me", "hey", "please", "shh", "shush", "hmm", "um", "uh", "okay", "ok",
    "yes", "yeah", "yep", "right", "thanks", "thank", "you", "actually", "but",
})
"""Words a user interrupts with. A transcript made only of these ("stop", "wait wait", "no no
no", "hold on", "okay thanks") is never dropped, whatever the assistant said."""

# Speaking rate used where a duration must be guessed from text (an item with no audio length
# known, an utterance with no onset known): about 165 words per minute, the usual TTS pace.
_CHARS_PER_S = 15.0
_WORDS_PER_S = 2.75


# ---------------------------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------------------------

_CONTRACTIONS = {
    "won't": "will not", "can't": "can not", "shan't": "shall not", "let's": "let us",
    "it's": "it is", "that's": "that is", "what's": "what is", "there's": "there is",
    "here's": "here is", "he's": "he is", "she's": "she is", "who's": "who is",
    "where's": "where is", "how's": "how is", "when's": "when is", "why's": "why is",
}
_CONTRACTION_RE = re.compile(r"\b(" + "|".join(re.escape(c) for c in _CONTRACTIONS) + r")\b")
_SUFFIXES = (("n't", " not"), ("'re", " are"), ("'ll", " will"), ("'ve", " have"),
             ("'m", " am"), ("'d", " would"), ("'s", ""))
_SUFFIX_RE = re.compile(r"(n't|'re|'ll|'ve|'m|'d|'s)\b")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand"),
           (100, "hundred"))


def _integer_words(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    for scale, name in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return _integer_words(high) + [name] + (_integer_words(rest) if rest else [])
    raise AssertionError(n)  # pragma: no cover: every n >= 100 has a scale


def _number_words(digits: str) -> str:
    whole, _, fraction = digits.partition(".")
    if len(whole) > 12:  # a phone or card number: read digit by digit, as ASR would spell it
        return " ".join(_ONES[int(d)] for d in digits if d.isdigit())
    words = _integer_words(int(whole))
    if fraction:
        words += ["point"] + [_ONES[int(d)] for d in fraction]
    return " " + " ".join(words) + " "


def _expand_suffix(match: re.Match[str]) -> str:
    return dict(_SUFFIXES)[match.group(1)]


def normalize(text: str) -> list[str]:
    """``text`` as comparable words: lower case, no accents or punctuation, contractions
    expanded ("what's" -> "what is"), digits spelled out ("75" -> "seventy five", "2.5" ->
    "two point five"), "%" -> "percent", "&" -> "and"."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = _CONTRACTION_RE.sub(lambda m: _CONTRACTIONS[m.group(1)], text)
    text = _SUFFIX_RE.sub(_expand_suffix, text)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = text.replace("%", " percent ").replace("&", " and ")
    text = _NUMBER_RE.sub(lambda m: _number_words(m.group(0)), text)
    return re.findall(r"[a-z]+", text)


# A crude English sound key, so that ASR homophones ("four"/"for", "their"/"there",
# "weather"/"whether", "sundae"/"sunday", "write"/"right") compare equal: spelling rules that
# do not change the sound, then vowels dropped after the first letter.
_SOUND_RULES = tuple((re.compile(p), r) for p, r in (
    (r"^kn", "n"), (r"^wr", "r"), (r"^wh", "w"), (r"^ps", "s"), (r"ph", "f"), (r"gh", ""),
    (r"tch", "ch"), (r"dg", "j"), (r"ck", "k"), (r"c(?=[eiy])", "s"), (r"c", "k"), (r"q", "k"),
    (r"x", "ks"), (r"z", "s"), (r"mb$", "m"),
))


def _sound_key(word: str) -> str:
    for pattern, replacement in _SOUND_RULES:
        word = pattern.sub(replacement, word)
    if not word:
        return ""
    first = "a" if word[0] in "aeiouy" else word[0]
    key = first + re.sub(r"[aeiouyhw]", "", word[1:])
    return re.sub(r"(.)\1+", r"\1", key)


# ---------------------------------------------------------------------------------------------
# What the assistant said, and when
# ---------------------------------------------------------------------------------------------


# Pauses a voice makes at punctuation, in characters of speech (about 15 per second).
_PAUSE_CHARS = {".": 5, "?": 5, "!": 5, ",": 3, ";": 3, ":": 3}


def _spoken_spans(text: str) -> list[tuple[int, int, float, list[str]]]:
    """Each word of ``text`` as (start, end, weight, spoken words): the weight is its length
    as spoken ("4.5" is "four point five") plus the pause after it, its share of the audio."""
    spans: list[tuple[int, int, float, list[str]]] = []
    for m in re.finditer(r"\S+", text):
        spoken = normalize(m.group(0))
        weight = sum(len(w) + 1 for w in spoken) + _PAUSE_CHARS.get(m.group(0)[-1], 0)
        spans.append((m.start(), m.end(), weight, spoken))
    return spans


def _timed_words(text: str) -> tuple[list[str], list[float], float]:
    """``text``'s normalised words, where each starts (in the weights of
    :func:`_spoken_spans`), and the total weight."""
    words: list[str] = []
    starts: list[float] = []
    position = 0.0
    for _, _, weight, spoken in _spoken_spans(text):
        offset = position
        for word in spoken:
            words.append(word)
            starts.append(offset)
            offset += len(word) + 1
        position += weight
    return words, starts, position


def _word_at(text: str, fraction: float) -> tuple[int, int] | None:
    """(start, end) of the word being spoken ``fraction`` of the way through ``text``'s audio,
    ``None`` past the end."""
    spans = _spoken_spans(text)
    total = sum(span[2] for span in spans)
    if not spans or fraction >= 1.0:
        return None
    target = max(fraction, 0.0) * total
    for start, end, weight, _ in spans:
        target -= weight
        if target < 0:
            return start, end
    return None


def heard_part(text: str, heard_ms: float | None, audio_ms: float | None, *,
               margin_ms: float = 0.0) -> str:
    """The part of ``text`` heard after ``heard_ms`` of its ``audio_ms`` played.

    Without word timings the audio is shared among the words in proportion to their spoken
    length ("4.5" counts as "four point five") plus a pause at punctuation, and the cut is moved
    forward by ``margin_ms``, to the end of the word it falls in: speech rate varies, so this
    is an estimate, good to a word or two, and a word too many costs less than a word too few
    (an echo of a word that is missing cannot be recognised). ``None`` for either length means
    all of it was heard.
    """
    if heard_ms is None or audio_ms is None or audio_ms <= 0:
        return text
    word = _word_at(text, (heard_ms + margin_ms) / audio_ms)
    return text if word is None else text[:word[1]]


@attrs.frozen(kw_only=True)
class AssistantSpeech:
    """One item the assistant spoke, as far as the user could hear it.

    Attributes:
        item_id: the assistant's conversation item.
        text: everything the model generated for it.
        heard_text: the part that was played, a prefix of ``text`` ending on a word (all of
            it unless interrupted; see :func:`heard_part`).
        started_at: when its playback started (monotonic seconds), if known.
        ended_at: when its playback ended or was stopped; ``None`` while it plays.
        interrupted: the user cut it short.
        heard_ms: audio actually played, when known.
        audio_ms: the item's audio length (received so far while it plays), measured or, when
            ``audio_estimated``, guessed from its text at a typical speaking rate.
        audio_estimated: ``audio_ms`` is a guess, not a measurement.
    """

    item_id: str
    text: str
    heard_text: str
    started_at: float | None = None
    ended_at: float | None = None
    interrupted: bool = False
    heard_ms: float | None = None
    audio_ms: float | None = None
    audio_estimated: bool = False

    @classmethod
    def from_text(cls, item_id: str, text: str, *, interrupted: bool = False,
                  heard_ms: float | None = None, audio_ms: float | None = None,
                  started_at: float | None = None,
                  ended_at: float | None = None) -> AssistantSpeech:
        """An item known from its transcript alone (a stored record, a test): without
        ``audio_ms``, its length is guessed from the text at a typical speaking rate, and
        the heard part of an interrupted item cut from that (:func:`heard_part`)."""
        estimated = audio_ms is None
        if audio_ms is None:
            audio_ms = len(text) / _CHARS_PER_S * 1000.0
        heard = heard_part(text, heard_ms, audio_ms) if interrupted else text
        return cls(item_id=item_id, text=text, heard_text=heard, started_at=started_at,
                   ended_at=ended_at, interrupted=interrupted, heard_ms=heard_ms,
                   audio_ms=audio_ms, audio_estimated=estimated)

    def heard_words_from(self, t: float) -> list[str]:
        """The heard words (normalised) played at or after time ``t`` (monotonic seconds),
        from the word playing then, placed in time as in :func:`heard_part`; all of them when
        the item's start is unknown."""
        heard = normalize(self.heard_text)
        if self.started_at is None or not self.audio_ms:
            return heard
        words, starts, total = _timed_words(self.text)
        target = (t - self.started_at) * 1000.0 / self.audio_ms * total
        first = next((i for i, (w, s) in enumerate(zip(words, starts, strict=True))
                      if s + len(w) + 1 > target), len(words))
        return heard[first:]


@attrs.frozen(kw_only=True)
class TranscriptContext:
    """What a filter knows besides the transcript's text.

    Attributes:
        at: when the transcript arrived (monotonic seconds).
        speeches: the assistant's recent items, oldest first.
        speech_started_at: when the user's utterance started (a detector's onset), if known.
        audio_near_end: the audio-level opinion on this utterance: ``True`` the echo gate or
            double-talk detector judged its audio to be the user, ``False`` echo, ``None``
            unknown.
    """

    at: float
    speeches: tuple[AssistantSpeech, ...] = ()
    speech_started_at: float | None = None
    audio_near_end: bool | None = None


@attrs.define
class _Item:
    item_id: str
    deltas: list[str] = attrs.Factory(list)
    final_text: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    interrupted: bool = False
    heard_ms: float | None = None
    received_ms: float | None = None

    @property
    def text(self) -> str:
        return self.final_text if self.final_text is not None else "".join(self.deltas)

    def snapshot(self, now: float | None, margin_ms: float) -> AssistantSpeech:
        text = self.text
        audio_ms = self.received_ms
        estimated = False
        if (audio_ms is None and not self.interrupted and self.started_at is not None
                and self.ended_at is not None):
            audio_ms = (self.ended_at - self.started_at) * 1000.0
        if not audio_ms:
            audio_ms = len(text) / _CHARS_PER_S * 1000.0
            estimated = True
        heard_ms = self.heard_ms
        if self.ended_at is not None and not self.interrupted:
            heard_ms = None  # played out: all of it was heard
        elif self.ended_at is None and now is not None and self.started_at is not None:
            # Still playing: positions are reported now and then, and playback went on since.
            played = (now - self.started_at) * 1000.0
            heard_ms = min(max(heard_ms or 0.0, played), audio_ms)
        return AssistantSpeech(
            item_id=self.item_id, text=text,
            heard_text=heard_part(text, heard_ms, audio_ms, margin_ms=margin_ms),
            started_at=self.started_at, ended_at=self.ended_at, interrupted=self.interrupted,
            heard_ms=heard_ms, audio_ms=audio_ms, audio_estimated=estimated)


class AssistantSpeechHistory:
    """The assistant's recent speech and the user's speech onsets, fed with conversation events.

    Pass every event of ``Conversation.events()`` (or of the session core) to :meth:`observe`;
    the ones that say what the assistant played and when (``ResponseAudioStarted``,
    ``AssistantTranscriptDelta``, ``PlaybackPosition``, ``AssistantTranscript``,
    ``Interrupted``, ``StateChanged``) and when the user started talking
    (``UserSpeechStarted``, ``Interrupted``) are used, the others ignored. Then
    :meth:`context_for` builds the :class:`TranscriptContext` of a user transcript.

    Args:
        keep_s: how long after its playback ended an item is remembered.
        max_items: the most items remembered.
        max_utterance_s: an onset older than this before a transcript is not its start.
        heard_margin_ms: how much further than the proportional estimate the heard part of an
            interrupted or playing item reaches (see :func:`heard_part`).
    """

    def __init__(self, *, keep_s: float = 30.0, max_items: int = 16,
                 max_utterance_s: float = 30.0, heard_margin_ms: float = 400.0) -> None:
        if keep_s <= 0 or max_items < 1 or max_utterance_s <= 0 or heard_margin_ms < 0:
            raise ConfigurationError(
                f"keep_s={keep_s}, max_items={max_items}, max_utterance_s={max_utterance_s}, "
                f"heard_margin_ms={heard_margin_ms}: expected positive values")
        self.heard_margin_ms = heard_margin_ms
        self.keep_s = keep_s
        self.max_items = max_items
        self.max_utterance_s = max_utterance_s
        self._items: dict[str, _Item] = {}
        self._onsets: list[float] = []

    def _item(self, item_id: str) -> _Item:
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = _Item(item_id)
            while len(self._items) > self.max_items:
                del self._items[next(iter(self._items))]
        return item

    def observe(self, event: object) -> None:
        """Take note of one conversation event (any type; irrelevant ones are ignored)."""
        match event:
            case ResponseAudioStarted(item_id=item_id, at=at):
                item = self._item(item_id)
                if item.started_at is None:
                    item.started_at = at
            case AssistantTranscriptDelta(item_id=item_id, delta=delta):
                self._item(item_id).deltas.append(delta)
            case PlaybackPosition(item_id=item_id, heard_ms=heard, received_ms=received, at=at):
                item = self._item(item_id)
                if item.started_at is None:
                    item.started_at = at - heard / 1000.0
                if not item.interrupted:
                    item.heard_ms, item.received_ms = heard, received
            case AssistantTranscript(item_id=item_id, text=text, interrupted=interrupted,
                                     heard_ms=heard):
                item = self._item(item_id)
                item.final_text = text
                if interrupted:
                    item.interrupted = True
                    item.heard_ms = heard if heard is not None else item.heard_ms
            case Interrupted(item_id=item_id, heard_ms=heard, received_ms=received,
                             latency=latency):
                stopped = (latency.playback_stopped if latency.playback_stopped is not None
                           else latency.detected)
                if item_id is not None:
                    item = self._item(item_id)
                    item.interrupted = True
                    item.heard_ms, item.received_ms = heard, received
                    item.ended_at = stopped
                self._onset(latency.onset if latency.onset is not None else latency.detected)
            case StateChanged(old=old, new=new, at=at):
                if old in (State.SPEAKING, State.CANCELLING) and new in (State.LISTENING,
                                                                         State.IDLE):
                    for item in self._items.values():
                        if item.started_at is not None and item.ended_at is None:
                            item.ended_at = at
            case UserSpeechStarted(at=at):
                self._onset(at)
            case UserTranscript(at=at) | EchoTranscriptDropped(at=at):
                self._consume_onsets(at)
            case _:
                pass

    def _onset(self, at: float) -> None:
        self._onsets.append(at)

    def _consume_onsets(self, at: float) -> None:
        self._onsets = [t for t in self._onsets if t > at]

    def onset_before(self, at: float) -> float | None:
        """The start of the user's utterance transcribed at ``at``: the earliest onset not yet
        used by an earlier transcript, no older than ``max_utterance_s``; ``None`` if none."""
        candidates = [t for t in self._onsets if at - self.max_utterance_s <= t <= at]
        return min(candidates) if candidates else None

    def speeches(self, now: float | None = None) -> tuple[AssistantSpeech, ...]:
        """Snapshots of the remembered items with any text, oldest first; with ``now``, only
        those still playing or ended within ``keep_s``, and the heard part of those still
        playing extrapolated to ``now``."""
        out = []
        for item in self._items.values():
            if not item.text:
                continue
            if now is not None and item.ended_at is not None and now - item.ended_at > self.keep_s:
                continue
            out.append(item.snapshot(now, self.heard_margin_ms))
        return tuple(out)

    def context_for(self, transcript: UserTranscript, *, audio_near_end: bool | None = None,
                    speech_started_at: float | None = None) -> TranscriptContext:
        """The context of ``transcript``, before it is observed (observing it uses up the
        onsets that started it).

        Args:
            transcript: the user transcript to judge.
            audio_near_end: the audio-level opinion on the utterance, if any.
            speech_started_at: the utterance's onset when the caller knows it better (the
                server VAD's ``audio_start_ms`` for the transcript's item, on this clock);
                by default the onset the history saw (:meth:`onset_before`).
        """
        onset = (speech_started_at if speech_started_at is not None
                 else self.onset_before(transcript.at))
        return TranscriptContext(at=transcript.at, speeches=self.speeches(transcript.at),
                                 speech_started_at=onset, audio_near_end=audio_near_end)


# ---------------------------------------------------------------------------------------------
# Verdicts and the filter protocol
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TranscriptVerdict:
    """One filter's opinion on one user transcript.

    Attributes:
        filter: the filter's name (``"timing"``, ``"similarity"``, ...).
        drop: whether it judged the transcript echo.
        reason: why, in words, with the figures that decided.
        score: how echo-like the filter found it, 0 to 1 (1: the assistant's words exactly).
        matched: the assistant's words it was compared with, when that decided.
    """

    filter: str
    drop: bool
    reason: str
    score: float = 0.0
    matched: str | None = None


class TranscriptFilter(Protocol):
    """A transcript-level echo filter: (user transcript, context) -> verdict.

    Implementations are synchronous and pure: they keep no state between calls, so the same
    filter can judge transcripts of several conversations.
    """

    @property
    def name(self) -> str:
        """The name verdicts carry."""
        ...

    def judge(self, text: str, context: TranscriptContext) -> TranscriptVerdict:
        """Judge the user transcript ``text`` in ``context``."""
        ...


# Hesitations carry nothing: an ASR writes them into echo and user speech alike.
_HESITATIONS = frozenset({"uh", "um", "uhm", "er", "erm", "ah", "eh", "mm", "hmm"})


def _words(text: str) -> list[str]:
    """The words of a user transcript that are compared: normalised, hesitations left out."""
    return [t for t in normalize(text) if t not in _HESITATIONS]


def _estimated_onset(context: TranscriptContext, n_tokens: int,
                     asr_latency_s: float) -> tuple[float, bool]:
    """The utterance's onset and whether it is known; estimated back from the transcript's
    arrival (transcription delay, then the words at a typical rate) when it is not."""
    if context.speech_started_at is not None:
        return context.speech_started_at, True
    return context.at - asr_latency_s - n_tokens / _WORDS_PER_S, False


def _allowlisted(tokens: Sequence[str], allowlist: frozenset[str]) -> bool:
    return all(t in allowlist for t in tokens)


def _rule_verdict(name: str, tokens: Sequence[str], context: TranscriptContext,
                  allowlist: frozenset[str], min_text_tokens: int) -> TranscriptVerdict | None:
    """The verdict of the shared rules (no words, allowlist, short transcripts whose audio was
    not judged echo), or ``None`` when the filter must look further."""
    if not tokens:
        return TranscriptVerdict(filter=name, drop=False, reason="no words (or hesitations only)")
    if _allowlisted(tokens, allowlist):
        return TranscriptVerdict(filter=name, drop=False,
                                 reason="allowlisted words only; never dropped")
    if len(tokens) < min_text_tokens and context.audio_near_end is not False:
        opinion = "unknown" if context.audio_near_end is None else "the user"
        return TranscriptVerdict(
            filter=name, drop=False,
            reason=f"{len(tokens)} word(s): judged from the audio, which says {opinion}")
    return None


# ---------------------------------------------------------------------------------------------
# Word matching
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Overlap:
    """How the user's words compare with a stretch of the assistant's words."""

    containment: float  # share of user words found among the assistant's (fuzzily)
    aligned: float  # best-aligned fuzzy substring ratio (difflib), characters
    bigrams: float  # share of user word pairs found in order (one word may be skipped)
    novel: int  # user words found nowhere in the assistant's
    matched: str  # the assistant's words, as compared

    @property
    def score(self) -> float:
        return (self.containment + self.aligned + self.bigrams) / 3.0


def _sounds_alike(u: str, a: str) -> bool:
    # Same sound key, and spellings not too far apart: "write"/"right" and "four"/"for", but
    # not "right"/"rate", whose keys collide too.
    return (len(_sound_key(u)) >= 2
            and difflib.SequenceMatcher(None, u, a, autojunk=False).ratio() >= 0.5)


def _match_word(u: str, vocabulary: set[str], by_key: dict[str, list[str]],
                edge: str | None) -> str | None:
    """The assistant word ``u`` stands for, or ``None``; ``edge`` is ``"first"`` or ``"last"``
    for a word at the transcript's start or end, which may be cut."""
    if u in vocabulary:
        return u
    if len(u) >= 3:
        alike = [a for a in by_key.get(_sound_key(u), ()) if _sounds_alike(u, a)]
        if alike:
            return alike[0]
    if len(u) >= 5:
        close = difflib.get_close_matches(u, vocabulary, n=1, cutoff=0.8)
        if close:
            return close[0]
    if len(u) >= 3 and edge is not None:
        cut = [a for a in vocabulary if len(a) > len(u)
               and (a.endswith(u) if edge == "first" else a.startswith(u))]
        if cut:
            return min(cut)
    return None


def _canonical(tokens: Sequence[str], heard: Sequence[str]) -> list[str | None]:
    """Each user word as the assistant word it matches, or ``None`` if it matches none.

    A transcript's first word may be the tail of a word whose start the detector missed
    ("cast" of "forecast"), and its last word the head of one cut off: those match too.
    """
    vocabulary = set(heard)
    by_key: dict[str, list[str]] = {}
    for word in sorted(vocabulary):
        if len(word) >= 3:
            by_key.setdefault(_sound_key(word), []).append(word)
    last = len(tokens) - 1
    return [_match_word(u, vocabulary, by_key,
                        "first" if i == 0 else "last" if i == last else None)
            for i, u in enumerate(tokens)]


def _aligned_ratio(short: str, long: str) -> float:
    """The best ``difflib`` ratio of ``short`` against a same-length window of ``long``,
    windows anchored on the matching blocks (a partial-ratio)."""
    if not short or not long:
        return 0.0
    if len(short) >= len(long):
        return difflib.SequenceMatcher(None, short, long, autojunk=False).ratio()
    best = 0.0
    blocks = difflib.SequenceMatcher(None, short, long, autojunk=False).get_matching_blocks()
    for block in blocks:
        start = min(max(block.b - block.a, 0), len(long) - len(short))
        window = long[start:start + len(short)]
        ratio = difflib.SequenceMatcher(None, short, window, autojunk=False).ratio()
        best = max(best, ratio)
        if best > 0.995:
            break
    return best


def _overlap(tokens: Sequence[str], heard: Sequence[str]) -> _Overlap:
    canon = _canonical(tokens, heard)
    found = [c for c in canon if c is not None]
    # Word pairs in order, one assistant word skipped at most (an ASR deletion), and new user
    # words stepped over (an ASR substitution or insertion costs its word, not three pairs);
    # the share is over all of the user's pairs, so new words still count against it.
    pairs = set(itertools.pairwise(heard)) | set(zip(heard, heard[2:], strict=False))
    in_order = sum(1 for pair in itertools.pairwise(found) if pair in pairs)
    n_pairs = len(tokens) - 1
    # The aligned ratio runs on the canonical words (ASR spelling slips already forgiven),
    # keeping unmatched words as they were so that they count against the match.
    spoken = " ".join(c if c is not None else u for c, u in zip(canon, tokens, strict=True))
    return _Overlap(
        containment=len(found) / len(tokens),
        aligned=_aligned_ratio(spoken, " ".join(heard)),
        bigrams=in_order / n_pairs if n_pairs else float(bool(found)),
        novel=len(tokens) - len(found),
        matched=" ".join(heard),
    )

def _check_fractions(owner: object, fields: Sequence[str]) -> None:
    for field in fields:
        value = getattr(owner, field)
        if not 0.0 <= value <= 1.0:
            raise ConfigurationError(f"{field}={value!r}: expected a fraction between 0 and 1")


def _check_seconds(owner: object, fields: Sequence[str]) -> None:
    for field in fields:
        value = getattr(owner, field)
        if value is not None and value < 0:
            raise ConfigurationError(f"{field}={value!r}: expected non-negative seconds")


def _allowed_novel(n_tokens: int, fraction: float) -> int:
    # One new word is always forgiven: a single ASR substitution in a short echo.
    return max(1, int(fraction * n_tokens))


def _thresholds(context: TranscriptContext, min_score: float, novel: float,
                echo_min_score: float, echo_novel: float) -> tuple[float, float]:
    """The score and new-word share a drop needs: laxer when the audio said echo."""
    if context.audio_near_end is False:
        return echo_min_score, echo_novel
    return min_score, novel


def _figures(overlap: _Overlap) -> str:
    return (f"score {overlap.score:.2f} (containment {overlap.containment:.2f}, aligned "
            f"{overlap.aligned:.2f}, bigrams {overlap.bigrams:.2f}), {overlap.novel} new word(s)")


def _short_verdict(name: str, tokens: Sequence[str], heard: Sequence[str],
                   where: str) -> TranscriptVerdict:
    """A 1-2 word transcript whose audio the gate judged echo: dropped if its words are the
    assistant's."""
    drop = all(c is not None for c in _canonical(tokens, heard))
    if drop:
        return TranscriptVerdict(
            filter=name, drop=True, score=1.0, matched=" ".join(heard),
            reason=f"{len(tokens)} word(s) {where}, and the audio gate judged it echo")
    return TranscriptVerdict(filter=name, drop=False,
                             reason=f"short, and not among the words {where}")


# ---------------------------------------------------------------------------------------------
# The filters
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TimingFilter:
    """Drops a transcript that started while the assistant played, or within ``after_s`` of it
    stopping, and whose words are the ones the assistant played from then on.

    Echo repeats what the speaker plays after the echo starts, so the words are looked for in
    the heard text from ``slack_s`` before the utterance's onset (the proportional word timing
    and the detector's onset are each off by a few hundred milliseconds). A user talking over
    the assistant, or repeating it back, quotes what was said before they started: kept.

    When the onset is unknown, it is estimated from the transcript's arrival (``asr_latency_s``
    plus the utterance's length at a typical speaking rate before it) and the slack grows by
    ``unknown_onset_slack_s``: the filter then tells a repeat-back from echo less well.

    Args:
        after_s: how long after playback ended an onset may still be echo (room delay and
            detector slack).
        slack_s: how far before the onset the compared words start.
        unknown_onset_slack_s: added to ``slack_s`` when the onset is estimated.
        asr_latency_s: the usual delay from the end of speech to its transcript.
        min_score: the least overlap score (mean of containment, aligned ratio, bigrams).
        max_novel_fraction: the most user words, as a share, found nowhere among the compared
            ones (one is always allowed). With ``audio_near_end=True``, none is.
        echo_min_score, echo_max_novel_fraction: the same, when the audio said echo
            (``audio_near_end=False``): a recogniser mangles a faint echo (word errors,
            inserted words), and the audio already says no user was heard.
        min_text_tokens: shorter transcripts follow the audio's opinion.
        allowlist: words that are never dropped on their own.
    """

    after_s: float = 0.5
    slack_s: float = 0.8
    unknown_onset_slack_s: float = 1.2
    asr_latency_s: float = 0.6
    min_score: float = 0.7
    max_novel_fraction: float = 0.25
    echo_min_score: float = 0.5
    echo_max_novel_fraction: float = 0.5
    min_text_tokens: int = 3
    allowlist: frozenset[str] = DEFAULT_ALLOWLIST

    def __attrs_post_init__(self) -> None:
        _check_fractions(self, ("min_score", "max_novel_fraction", "echo_min_score",
                                "echo_max_novel_fraction"))
        _check_seconds(self, ("after_s", "slack_s", "unknown_onset_slack_s", "asr_latency_s"))

    @property
    def name(self) -> str:
        return "timing"

    def judge(self, text: str, context: TranscriptContext) -> TranscriptVerdict:
        tokens = _words(text)
        ruled = _rule_verdict(self.name, tokens, context, self.allowlist, self.min_text_tokens)
        if ruled is not None:
            return ruled
        onset, known = _estimated_onset(context, len(tokens), self.asr_latency_s)
        slack = self.slack_s if known else self.slack_s + self.unknown_onset_slack_s
        how = "onset" if known else "estimated onset"
        playing = [s for s in context.speeches if s.started_at is not None
                   and s.started_at <= onset + self.after_s
                   and (s.ended_at is None or onset <= s.ended_at + self.after_s)]
        if not playing:
            return TranscriptVerdict(filter=self.name, drop=False,
                                     reason=f"{how} not during or just after playback")
        heard = [w for s in playing for w in s.heard_words_from(onset - slack)]
        if len(tokens) < self.min_text_tokens:
            return _short_verdict(self.name, tokens, heard, "being played")
        overlap = _overlap(tokens, heard)
        min_score, novel = _thresholds(context, self.min_score, self.max_novel_fraction,
                                       self.echo_min_score, self.echo_max_novel_fraction)
        allowed = 0 if context.audio_near_end is True else _allowed_novel(len(tokens), novel)
        drop = overlap.score >= min_score and overlap.novel <= allowed
        if drop:
            reason = f"{how} during playback and the words played from then on: "
        else:
            reason = f"{how} during playback, but not the words played from then on: "
        return TranscriptVerdict(filter=self.name, drop=drop, reason=reason + _figures(overlap),
                                 score=round(overlap.score, 3), matched=overlap.matched)


@attrs.frozen(kw_only=True)
class SimilarityFilter:
    """Drops a transcript whose words match, fuzzily and in order, what the assistant was
    heard saying in the last ``window_s`` seconds, with nearly no new words.

    Words are normalised (:func:`normalize`) and matched forgiving ASR errors: same sound key
    ("four"/"for"), a close spelling (``difflib`` ratio >= 0.8 for words of 5+ letters), a cut
    word at either end of the transcript. The score is the mean of the share of the user's
    words found, the best-aligned fuzzy substring ratio, and the share of word pairs found in
    order.

    Text cannot tell an echo from a user who repeats the assistant word for word ("Thursday
    at nine?"). So when the audio said the utterance was the user (``audio_near_end=True``),
    only a long exact match (``near_end_min_tokens`` words, none new, score at least
    ``near_end_min_score``) is dropped: users rarely repeat that much, while a gate can
    mistake loud echo for them.

    Args:
        window_s: how far back (from the transcript's arrival) assistant speech is compared;
            it must cover the utterance and the transcription delay.
        lookback_s: only words played from this long before the utterance's onset are
            compared: the assistant's *last* words when the user spoke, so that a user who
            repeats something said a moment earlier is kept. ``None``: all of the window.
        unknown_onset_slack_s: added to ``lookback_s`` when the onset is estimated from the
            transcript's arrival (``asr_latency_s`` plus the words at a typical rate).
        asr_latency_s: the usual delay from the end of speech to its transcript.
        min_score: the least score to drop.
        max_novel_fraction: the most user words, as a share, found nowhere (one is always
            allowed).
        near_end_min_tokens, near_end_min_score: what it takes to drop when the audio said
            it was the user.
        echo_min_score, echo_max_novel_fraction: ``min_score`` and ``max_novel_fraction``
            when the audio said echo (a faint echo is transcribed with more errors).
        min_text_tokens: shorter transcripts follow the audio's opinion.
        allowlist: words that are never dropped on their own.
    """

    window_s: float = 10.0
    lookback_s: float | None = 1.0
    unknown_onset_slack_s: float = 1.2
    asr_latency_s: float = 0.6
    min_score: float = 0.8
    max_novel_fraction: float = 0.2
    near_end_min_tokens: int = 6
    near_end_min_score: float = 0.95
    echo_min_score: float = 0.5
    echo_max_novel_fraction: float = 0.5
    min_text_tokens: int = 3
    allowlist: frozenset[str] = DEFAULT_ALLOWLIST

    def __attrs_post_init__(self) -> None:
        _check_fractions(self, ("min_score", "near_end_min_score", "max_novel_fraction",
                                "echo_min_score", "echo_max_novel_fraction"))
        if self.window_s <= 0:
            raise ConfigurationError(f"window_s={self.window_s!r}: expected positive seconds")
        _check_seconds(self, ("lookback_s", "unknown_onset_slack_s", "asr_latency_s"))

    @property
    def name(self) -> str:
        return "similarity"

    def judge(self, text: str, context: TranscriptContext) -> TranscriptVerdict:
        tokens = _words(text)
        ruled = _rule_verdict(self.name, tokens, context, self.allowlist, self.min_text_tokens)
        if ruled is not None:
            return ruled
        recent = [s for s in context.speeches
                  if (s.started_at is None or s.started_at <= context.at)
                  and (s.ended_at is None or context.at - s.ended_at <= self.window_s)]
        if self.lookback_s is not None:
            onset, known = _estimated_onset(context, len(tokens), self.asr_latency_s)
            lookback = self.lookback_s if known else self.lookback_s + self.unknown_onset_slack_s
            heard = [w for s in recent for w in s.heard_words_from(onset - lookback)]
        else:
            heard = normalize(" ".join(s.heard_text for s in recent))
        if not heard:
            return TranscriptVerdict(
                filter=self.name, drop=False,
                reason=f"nothing heard from the assistant in {self.window_s:g} s")
        if len(tokens) < self.min_text_tokens:
            return _short_verdict(self.name, tokens, heard, "the assistant said")
        overlap = _overlap(tokens, heard)
        if context.audio_near_end is True:
            drop = (len(tokens) >= self.near_end_min_tokens and overlap.novel == 0
                    and overlap.score >= self.near_end_min_score)
            reason = ("a long exact match, though the audio gate judged it the user: " if drop
                      else "the audio gate judged it the user, and it is not a long exact "
                           "match: ")
        else:
            min_score, novel = _thresholds(context, self.min_score, self.max_novel_fraction,
                                           self.echo_min_score, self.echo_max_novel_fraction)
            drop = (overlap.score >= min_score
                    and overlap.novel <= _allowed_novel(len(tokens), novel))
            reason = ("matches the assistant's recent words: " if drop
                      else "not the assistant's recent words: ")
        return TranscriptVerdict(filter=self.name, drop=drop, reason=reason + _figures(overlap),
                                 score=round(overlap.score, 3), matched=overlap.matched)

# ---------------------------------------------------------------------------------------------
# Composition and the drop event
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TranscriptJudgement:
    """The chain's decision on one transcript: every filter's verdict, in chain order."""

    verdicts: tuple[TranscriptVerdict, ...]

    @property
    def dropped_by(self) -> TranscriptVerdict | None:
        """The first verdict that dropped it (the one that decides), or ``None``."""
        return next((v for v in self.verdicts if v.drop), None)

    @property
    def drop(self) -> bool:
        """Whether the transcript is judged echo."""
        return self.dropped_by is not None


@attrs.frozen(kw_only=True)
class EchoTranscriptDropped:
    """A user transcript was judged the assistant's own voice and dropped.

    Emitted in place of the :class:`~realtalk.UserTranscript`, so an app can audit echo (and
    store it: :class:`realtalk.transcripts.TranscriptRecorder` records it, flagged).

    Attributes:
        item_id, text, at: those of the dropped transcript.
        verdict: the verdict that dropped it.
        verdicts: every filter's verdict.
        audio_near_end: the audio's opinion the filters were given
            (:attr:`TranscriptContext.audio_near_end`).
    """

    item_id: str
    text: str
    verdict: TranscriptVerdict
    verdicts: tuple[TranscriptVerdict, ...]
    at: float
    audio_near_end: bool | None = None


class TranscriptFilterChain:
    """Filters applied in order to each user transcript: the first drop decides, and every
    filter still judges, so that all verdicts can be audited."""

    def __init__(self, filters: Iterable[TranscriptFilter]) -> None:
        self.filters: tuple[TranscriptFilter, ...] = tuple(filters)

    def judge(self, text: str, context: TranscriptContext) -> TranscriptJudgement:
        """Every filter's verdict on ``text``."""
        judgement = TranscriptJudgement(
            verdicts=tuple(f.judge(text, context) for f in self.filters))
        dropped = judgement.dropped_by
        if dropped is not None:
            logger.info("user transcript %r dropped as echo by %s: %s", text, dropped.filter,
                        dropped.reason)
        return judgement

    def screen(self, transcript: UserTranscript, context: TranscriptContext
               ) -> tuple[TranscriptJudgement, EchoTranscriptDropped | None]:
        """Judge ``transcript``; also return the event to emit in its place when dropped."""
        judgement = self.judge(transcript.text, context)
        dropped = judgement.dropped_by
        if dropped is None:
            return judgement, None
        return judgement, EchoTranscriptDropped(
            item_id=transcript.item_id, text=transcript.text, verdict=dropped,
            verdicts=judgement.verdicts, at=transcript.at, audio_near_end=context.audio_near_end)


def default_transcript_filters() -> TranscriptFilterChain:
    """The default chain: :class:`TimingFilter` then :class:`SimilarityFilter`, as measured in
    ``benchmarks/transcript_filters.py``."""
    return TranscriptFilterChain([TimingFilter(), SimilarityFilter()])
