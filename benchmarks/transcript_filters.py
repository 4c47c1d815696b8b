"""Transcript-level echo filters on a labelled corpus: precision of drops, recall of echoes, and
the real utterances wrongly dropped.

Run: ``python benchmarks/transcript_filters.py [--seed N] [--cases N]``. Prints a readable
summary, then one JSON object (the last line)::

    {"seed": 2024, "corpus": {...}, "text_only": {"timing": {...}, "similarity": {...},
     "chain": {...}}, "with_audio": {...}}

The corpus is built from a deterministic seed. Each case is a conversation moment: one or two
assistant responses (sentences from several domains, spoken at 2.4-3.2 words per second with
uneven word lengths and pauses at punctuation), fed to an
:class:`~realtalk.echo.transcript.AssistantSpeechHistory` as the conversation's events
(``ResponseAudioStarted``, transcript deltas, ``PlaybackPosition``, ``AssistantTranscript``,
``Interrupted``, ``StateChanged``), then a user transcript:

- **echo**: a fragment of what the assistant played, starting at a random word, as the server
  would transcribe the echo: ASR errors at a per-case rate of 0-30 % (homophones, plural/tense
  slips, unrelated words, dropped and inserted words), a clipped first word or a missed start,
  a clipped last word, digits spelled out. One in five echoes caused a false barge-in, so the
  assistant stopped 250 ms after the echo began and the fragment holds only what played until
  then. A fifth are drawn 1-2 words long; with the cut ones and ASR deletions, nearly half of
  the echoes end up under 3 words (``echo_short``), which text alone may not judge.
- **real**: what users say, many sharing several words with the assistant: corrections ("no I
  said the forecast for Sunday not Saturday"), follow-up questions built on its phrases,
  acknowledgements quoting it, repeat-backs ("sunny with a high of seventy five, right?"),
  unrelated requests, and short replies ("yes", "stop", one of its words). Each starts during
  playback (a barge-in, which stops it), just after it ended, or seconds later.

The detector's onset of the utterance is known for 70 % of echoes and most barge-ins, else
estimated by the filters from the transcript's arrival. Word timings are never given to the
filters: they place words in time proportionally, while the corpus speaks them unevenly.

Two runs: **text_only** (no audio opinion, ``audio_near_end=None``: short transcripts are then
never dropped) and **with_audio**, where the echo gate's opinion is right 85 % of the time,
wrong 10 % and missing 5 %. Per filter (``timing``, ``similarity``) and the default ``chain``:
``precision`` (echo drops over all drops), ``recall`` over all echoes and over echoes of 3+
words (``recall_3plus``), ``real_dropped`` (count and per category), and the first wrongly
dropped real utterances with the verdict's reason.

The filters' thresholds were set on seed 1; the default seed (2024) is held out.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from realtalk.echo.transcript import (
    AssistantSpeechHistory,
    SimilarityFilter,
    TimingFilter,
    TranscriptContext,
    TranscriptFilter,
    default_transcript_filters,
    normalize,
)
from realtalk.session import (
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

DEFAULT_SEED = 2024
DEFAULT_CASES = 1500  # per label

# -- the assistant's side ----------------------------------------------------------------------

SENTENCES: dict[str, list[str]] = {
    "weather": [
        "The forecast for Saturday is sunny with a high of 75 degrees.",
        "There's a light breeze from the west and no rain expected until Monday.",
        "Sunday looks cloudier, with a thirty percent chance of showers in the afternoon.",
        "Temperatures will drop to around 50 overnight, so bring a jacket.",
        "The pollen count is high today, especially in the morning.",
    ],
    "calendar": [
        "You have a meeting with Sarah at 3:30 tomorrow in the main conference room.",
        "I moved your dentist appointment to Thursday at nine in the morning.",
        "Your next free slot is on Wednesday between two and four.",
        "The team review has been cancelled, and I've let everyone know.",
        "I'll remind you fifteen minutes before the call starts.",
    ],
    "cooking": [
        "Preheat the oven to 180 degrees and grease a nine inch baking tin.",
        "Whisk the eggs with the sugar until the mixture is pale and fluffy.",
        "Fold in the flour gently, then pour the batter into the tin.",
        "Bake for about 25 minutes, until a skewer comes out clean.",
        "Let it cool completely before you add the lemon icing.",
    ],
    "travel": [
        "Your flight to Lisbon leaves at 7:45 from gate twelve.",
        "The train to the airport takes about forty minutes from the central station.",
        "I found three hotels near the old town under a hundred euros a night.",
        "Check-in opens two hours before departure, and you can bring one carry-on bag.",
        "The museum is closed on Mondays but open late on Fridays.",
    ],
    "banking": [
        "Your current balance is 2,340 dollars and 15 cents.",
        "The last payment of 89 dollars went to the electricity company on Tuesday.",
        "I can set up a monthly transfer to your savings account if you like.",
        "Your card was used yesterday at a grocery store downtown.",
        "The interest rate on that account is 4.5 percent per year.",
    ],
    "support": [
        "Try restarting the router and waiting about a minute before you reconnect.",
        "If the light is still blinking red, the line may be down in your area.",
        "I've opened a ticket, and a technician will call you within two days.",
        "You can also check the status page for any outages near you.",
        "Your warranty covers the replacement, so there won't be any charge.",
    ],
}

FILLERS = ("uh", "um", "the", "and", "so", "a")
UNRELATED_WORDS = (
    "table", "window", "music", "garden", "yellow", "river", "pencil", "doctor", "travel",
    "number", "silver", "market", "bottle", "planet", "summer", "kitchen", "letter", "mountain",
    "orange", "basket", "engine", "minute", "station", "paper", "corner", "coffee", "village",
    "animal", "season", "bridge")
HOMOPHONES = [
    {"there", "their", "they're"}, {"to", "two", "too"}, {"for", "four"}, {"hear", "here"},
    {"right", "write"}, {"weather", "whether"}, {"high", "hi"}, {"sun", "son"},
    {"one", "won"}, {"whole", "hole"}, {"by", "buy", "bye"}, {"new", "knew"},
    {"no", "know"}, {"eight", "ate"}, {"week", "weak"}, {"meet", "meat"},
    {"flour", "flower"}, {"sunday", "sundae"}, {"break", "brake"}, {"plane", "plain"},
    {"fare", "fair"}, {"rain", "reign"}, {"morning", "mourning"}, {"dollars", "dollar"},
    {"minutes", "minute"}, {"cents", "sense"}, {"red", "read"}, {"whisk", "whisky"},
]
HOMOPHONE_OF = {w: group for group in HOMOPHONES for w in group}


@attrs.frozen
class Word:
    text: str  # as written in the assistant's transcript
    start: float  # seconds from the start of the item's playback
    end: float


@attrs.frozen
class Speech:
    """An assistant item: its text, and when each word played (unknown to the filters)."""

    item_id: str
    text: str
    words: tuple[Word, ...]
    duration: float


def speak(rng: random.Random, item_id: str, sentences: Sequence[str]) -> Speech:
    """Time the words of ``sentences`` as a TTS voice would: uneven lengths, pauses."""
    text = " ".join(sentences)
    raw = text.split()
    rate = rng.uniform(2.4, 3.2)  # words per second on average
    weights = [(len(w.strip(".,?!")) + 3) * rng.uniform(0.8, 1.25) for w in raw]
    scale = len(raw) / rate / sum(weights)
    words, t = [], 0.0
    for w, weight in zip(raw, weights, strict=True):
        d = weight * scale
        words.append(Word(w, t, t + d))
        t += d
        if w[-1] in ".,?!":
            t += rng.uniform(0.15, 0.4)
    return Speech(item_id, text, tuple(words), t)


def response(rng: random.Random, item_id: str) -> tuple[str, Speech]:
    domain = rng.choice(sorted(SENTENCES))
    chosen = rng.sample(SENTENCES[domain], rng.randint(1, 3))
    return domain, speak(rng, item_id, chosen)


# -- the ASR's errors on echo --------------------------------------------------------------------


def _spoken_words(words: Sequence[str]) -> list[str]:
    """How an ASR writes the assistant's words: its own spelling of numbers, no punctuation."""
    out: list[str] = []
    for w in words:
        out.extend(normalize(w) if re.search(r"\d", w) else [w.strip(".,?!").lower()])
    return [w for w in out if w]


def _slip(rng: random.Random, word: str) -> str:
    group = HOMOPHONE_OF.get(word)
    if group and rng.random() < 0.7:
        return rng.choice(sorted(group - {word}))
    roll = rng.random()
    if roll < 0.35 and len(word) > 3:
        return word[:-1] if word.endswith("s") else word + "s"
    if roll < 0.5 and len(word) > 4:
        return word + "ed" if not word.endswith("ed") else word[:-2]
    return rng.choice(UNRELATED_WORDS)


def asr(rng: random.Random, words: Sequence[str], error_rate: float) -> list[str]:
    """``words`` as transcribed with about ``error_rate`` word errors."""
    out: list[str] = []
    for w in words:
        roll = rng.random()
        if roll < error_rate * 0.55:
            out.append(_slip(rng, w))
        elif roll < error_rate * 0.8:
            continue  # deleted
        else:
            out.append(w)
        if rng.random() < error_rate * 0.2:
            out.append(rng.choice(FILLERS))
    return out or list(words[:1])


def clip_edges(rng: random.Random, words: list[str]) -> list[str]:
    """A detector that missed the first syllables; an utterance cut at its end."""
    if len(words) > 2 and rng.random() < 0.3:
        first = words[0]
        if len(first) >= 6 and rng.random() < 0.6:
            words[0] = first[rng.randint(2, len(first) - 3):]
        else:
            words = words[1:]
    if len(words) > 2 and rng.random() < 0.2 and len(words[-1]) >= 6:
        words[-1] = words[-1][:rng.randint(3, len(words[-1]) - 2)]
    return words


# -- the user's side -----------------------------------------------------------------------------

OTHER_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UNRELATED = (
    "what time is it in tokyo right now", "can you play some jazz in the kitchen",
    "remind me to call my mother tonight", "how do I get to the nearest pharmacy",
    "tell me a joke about penguins", "what is the capital of australia",
    "turn the lights off in the bedroom please", "I need to order a taxi for six people",
    "how many calories are in an avocado", "who won the football game last night",
)
SHORT = ("yes", "no", "okay", "sure", "thank you", "stop", "wait", "go on", "hmm",
         "got it", "sounds good", "really", "perfect", "nope", "hold on", "what")


def _phrase(rng: random.Random, words: Sequence[str], low: int, high: int) -> list[str]:
    n = min(len(words), rng.randint(low, high))
    start = rng.randint(0, len(words) - n)
    return list(words[start:start + n])


def real_utterance(rng: random.Random, heard: Sequence[str]) -> tuple[str, list[str]]:
    """A category and the words of something a user says to what they heard."""
    days = [d for d in OTHER_DAYS if d not in heard]
    other = rng.choice(days or list(OTHER_DAYS))
    category = rng.choices(
        ("correction", "follow_up", "acknowledge", "repeat_back", "unrelated", "short",
         "short_shared"),
        weights=(3, 3, 2, 2, 1, 2, 1))[0]
    phrase = _phrase(rng, heard, 2, 4)
    match category:
        case "correction":
            a = _phrase(rng, heard, 2, 3)
            template = rng.choice((
                "no I said {a} for {o} not {b}", "not {a} I meant {o}",
                "no no I asked about {a} on {o}", "I said {o} not {a}",
                "actually I wanted {a} for {o} instead"))
            b = rng.choice(heard)
            text = template.format(a=" ".join(a), b=b, o=other)
        case "follow_up":
            template = rng.choice((
                "what about {p} on {o}", "and is {p} the same on {o}",
                "can you check {p} for {o} as well", "how about {p} next {o}",
                "is that {p} or was it {o}"))
            text = template.format(p=" ".join(phrase), o=other)
        case "acknowledge":
            template = rng.choice((
                "{p} sounds great thanks", "okay so {p} then I will note that",
                "great {p} is exactly what I needed", "perfect let's go with {p}"))
            text = template.format(p=" ".join(phrase))
        case "repeat_back":
            tail = rng.choice(("", " right", " really", " is that correct", " did you say"))
            text = " ".join(_phrase(rng, heard, 2, 5)) + tail
        case "unrelated":
            text = rng.choice(UNRELATED)
        case "short":
            text = rng.choice(SHORT)
        case _:  # short_shared: one of the assistant's words, as a question
            text = rng.choice([w for w in heard if len(w) > 3] or list(heard)) + "?"
    return category, text.split()


# -- cases ---------------------------------------------------------------------------------------


@attrs.frozen
class Case:
    label: str  # "echo" or "real"
    category: str
    text: str
    history: AssistantSpeechHistory
    transcript: UserTranscript
    gate_opinion: bool | None  # what an echo gate would say (right 85 %)


def _feed(history: AssistantSpeechHistory, speech: Speech, t0: float, now: float, *,
          stop: float | None, onset: float | None, onset_known: bool,
          rng: random.Random) -> None:
    """The events a conversation would have emitted about ``speech`` until ``now``."""
    rid = "resp-" + speech.item_id
    total_ms = speech.duration * 1000.0
    history.observe(ResponseAudioStarted(response_id=rid, item_id=speech.item_id,
                                         latency_ms=None, at=t0))
    for i, word in enumerate(speech.text.split(" ")):
        history.observe(AssistantTranscriptDelta(response_id=rid, item_id=speech.item_id,
                                                 delta=word if i == 0 else " " + word))
    end = t0 + speech.duration if stop is None else stop
    if onset is not None and onset_known and onset < end:
        history.observe(UserSpeechStarted(source="local", at=onset))
    last_position = min(now, end)
    heard_ms = (last_position - t0) * 1000.0
    history.observe(PlaybackPosition(item_id=speech.item_id, content_index=0, heard_ms=heard_ms,
                                     received_ms=total_ms, at=last_position))
    if stop is not None and stop <= now:
        latency = InterruptionLatency(onset=onset if onset_known else None, detected=stop - 0.02,
                                      playback_stopped=stop)
        history.observe(Interrupted(response_id=rid, item_id=speech.item_id, source="local",
                                    heard_ms=heard_ms, received_ms=total_ms,
                                    truncate_ms=int(heard_ms), cancel_sent=True,
                                    timed_out=False, latency=latency))
        history.observe(AssistantTranscript(response_id=rid, item_id=speech.item_id,
                                            text=speech.text, interrupted=True,
                                            heard_ms=heard_ms, at=stop + 0.1))
        return
    if t0 + speech.duration / rng.uniform(3, 5) <= now:  # generation runs ahead of playback
        history.observe(AssistantTranscript(response_id=rid, item_id=speech.item_id,
                                            text=speech.text, interrupted=False, heard_ms=None,
                                            at=t0 + speech.duration / 4))
    if end <= now:
        history.observe(StateChanged(old=State.SPEAKING, new=State.LISTENING, at=end))
    if onset is not None and onset_known and onset >= end:
        history.observe(UserSpeechStarted(source="local", at=onset))


def _gate(rng: random.Random, is_user: bool) -> bool | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    return is_user if roll < 0.90 else not is_user


def _with_previous(rng: random.Random, n: int, t0: float) -> AssistantSpeechHistory:
    history = AssistantSpeechHistory()
    if rng.random() < 0.5:
        _, previous = response(rng, f"prev{n}")
        start = t0 - previous.duration - rng.uniform(3.0, 15.0)
        _feed(history, previous, start, t0, stop=None, onset=None, onset_known=False, rng=rng)
    return history


def mishear(rng: random.Random, words: Sequence[str], max_error_rate: float = 0.3) -> list[str]:
    """``words`` as a recogniser writes them: numbers spelled out, no punctuation, word errors
    at a rate drawn up to ``max_error_rate``, and the edges clipped now and then."""
    return clip_edges(rng, asr(rng, _spoken_words(words), rng.uniform(0.0, max_error_rate)))


def echo_case(rng: random.Random, n: int) -> Case:
    t0 = 100.0
    history = _with_previous(rng, n, t0)
    _, speech = response(rng, f"item{n}")
    words = speech.words
    short = rng.random() < 0.2
    length = rng.randint(1, 2) if short else rng.choice((3, 3, 4, 5, 6, 7, 8, 10, 12, 14))
    first = rng.randrange(len(words))
    onset = t0 + words[first].start + rng.uniform(0.01, 0.08) + rng.uniform(0.0, 0.2)
    stop = None
    chosen = list(words[first:first + length])
    if rng.random() < 0.2:  # the echo set off a false barge-in: playback stopped 250 ms in
        stop = onset + 0.25
        chosen = [w for w in chosen if t0 + w.start < stop] or chosen[:1]
    typed = mishear(rng, [w.text for w in chosen])
    if short:
        typed = typed[:2]
    text = " ".join(typed)
    at = onset + (chosen[-1].end - chosen[0].start) + rng.uniform(0.3, 1.2)
    _feed(history, speech, t0, at, stop=stop, onset=onset, onset_known=rng.random() < 0.7,
          rng=rng)
    category = "echo_short" if len(normalize(text)) < 3 else "echo"
    return Case("echo", category, text, history,
                UserTranscript(item_id=f"user{n}", text=text, at=at), _gate(rng, False))


def real_case(rng: random.Random, n: int) -> Case:
    t0 = 100.0
    history = _with_previous(rng, n, t0)
    _, speech = response(rng, f"item{n}")
    when = rng.choices(("barge_in", "quick", "later"), weights=(5, 3, 2))[0]
    end = t0 + speech.duration
    stop = None
    if when == "barge_in":
        onset = t0 + rng.uniform(min(1.0, speech.duration / 2), speech.duration - 0.1)
        stop = onset + rng.uniform(0.15, 0.4)
    elif when == "quick":
        onset = end + rng.uniform(0.1, 1.0)
    else:
        onset = end + rng.uniform(1.5, 8.0)
    # What the user can refer to: the words that ended before they started (and reacted).
    reaction = rng.uniform(0.2, 0.6)
    heard = _spoken_words([w.text for w in speech.words if t0 + w.end <= onset - reaction])
    category, words = real_utterance(rng, heard or ["okay"])
    text = " ".join(words)
    at = onset + len(words) / rng.uniform(2.0, 3.0) + rng.uniform(0.3, 1.2)
    _feed(history, speech, t0, at, stop=stop, onset=onset,
          onset_known=rng.random() < (0.9 if when == "barge_in" else 0.5), rng=rng)
    return Case("real", f"{category}", text, history,
                UserTranscript(item_id=f"user{n}", text=text, at=at), _gate(rng, True))


def corpus(seed: int, cases: int) -> list[Case]:
    rng = random.Random(seed)
    out = [echo_case(rng, i) for i in range(cases)]
    out += [real_case(rng, cases + i) for i in range(cases)]
    return out


# -- scoring -------------------------------------------------------------------------------------

Judge = Callable[[str, TranscriptContext], bool]


def _score(cases: Sequence[Case], judge: Callable[[str, TranscriptContext], tuple[bool, str]],
           with_audio: bool) -> dict[str, Any]:
    drops = Counter[str]()
    totals = Counter[str]()
    wrong: list[dict[str, str]] = []
    cpu = time.process_time()
    for case in cases:
        context = case.history.context_for(
            case.transcript, audio_near_end=case.gate_opinion if with_audio else None)
        dropped, reason = judge(case.text, context)
        totals[case.category] += 1
        if dropped:
            drops[case.category] += 1
            if case.label == "real" and len(wrong) < 8:
                wrong.append({"text": case.text, "category": case.category, "reason": reason})
    cpu = time.process_time() - cpu
    echo_cats = [c for c in totals if c.startswith("echo")]
    real_cats = [c for c in totals if not c.startswith("echo")]
    echo_dropped = sum(drops[c] for c in echo_cats)
    real_dropped = sum(drops[c] for c in real_cats)
    all_drops = echo_dropped + real_dropped
    return {
        "precision": round(echo_dropped / all_drops, 4) if all_drops else None,
        "recall": round(echo_dropped / sum(totals[c] for c in echo_cats), 4),
        "recall_3plus": round(drops["echo"] / totals["echo"], 4),
        "recall_short": round(drops["echo_short"] / totals["echo_short"], 4),
        "real_dropped": real_dropped,
        "real_dropped_by_category": {c: drops[c] for c in sorted(real_cats) if drops[c]},
        "real_total": sum(totals[c] for c in real_cats),
        "ms_per_transcript": round(cpu * 1000.0 / len(cases), 3),
        "wrongly_dropped": wrong,
    }


def _single(f: TranscriptFilter) -> Callable[[str, TranscriptContext], tuple[bool, str]]:
    def judge(text: str, context: TranscriptContext) -> tuple[bool, str]:
        verdict = f.judge(text, context)
        return verdict.drop, verdict.reason
    return judge


def _chain() -> Callable[[str, TranscriptContext], tuple[bool, str]]:
    chain = default_transcript_filters()

    def judge(text: str, context: TranscriptContext) -> tuple[bool, str]:
        judgement = chain.judge(text, context)
        by = judgement.dropped_by
        return judgement.drop, f"{by.filter}: {by.reason}" if by else ""
    return judge


def report(seed: int = DEFAULT_SEED, cases: int = DEFAULT_CASES) -> dict[str, Any]:
    """Build the corpus and score each filter and the default chain (module docstring)."""
    built = corpus(seed, cases)
    judges = {"timing": _single(TimingFilter()), "similarity": _single(SimilarityFilter()),
              "chain": _chain()}
    categories = Counter(c.category for c in built)
    return {
        "seed": seed,
        "corpus": {"echo": sum(c.label == "echo" for c in built),
                   "real": sum(c.label == "real" for c in built),
                   "by_category": dict(sorted(categories.items()))},
        "text_only": {name: _score(built, judge, False) for name, judge in judges.items()},
        "with_audio": {name: _score(built, judge, True) for name, judge in judges.items()},
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES, help="cases per label")
    args = parser.parse_args(argv)
    result = report(args.seed, args.cases)
    corpus_info = result["corpus"]
    print(f"corpus (seed {result['seed']}): {corpus_info['echo']} echoes, "
          f"{corpus_info['real']} real utterances")
    for run in ("text_only", "with_audio"):
        print(f"\n{run}:")
        print(f"  {'filter':<11}{'precision':>10}{'recall':>8}{'3+ words':>10}{'short':>7}"
              f"{'real dropped':>14}")
        for name, m in result[run].items():
            precision = "-" if m["precision"] is None else f"{m['precision']:.4f}"
            print(f"  {name:<11}{precision:>10}{m['recall']:>8.3f}{m['recall_3plus']:>10.3f}"
                  f"{m['recall_short']:>7.3f}{m['real_dropped']:>8} / {m['real_total']}")
            for w in m["wrongly_dropped"][:3]:
                print(f"      wrongly dropped [{w['category']}] {w['text']!r}: {w['reason']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
