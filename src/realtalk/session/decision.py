"""The interruption decision: after the assistant has yielded to the user, was it a real
interruption, a backchannel ("yeah", "uh huh") or only noise?

Barge-in and backchannels share one path, in the session core (:mod:`realtalk.session.core`):

1. **detect**: the local detector confirms user speech while the assistant speaks;
2. **yield**: playback pauses at once, at a sample-exact point, and the reply keeps streaming
   into a held buffer; the cancel is held;
3. **decide**: evidence accumulates (how long the user has talked, whether they have fallen
   silent and for how long, the words once a transcript exists) and an
   :class:`InterruptionClassifier` judges it;
4. **cancel or resume**: an interruption cancels and truncates at what was heard, exactly as an
   immediate barge-in does; a backchannel or noise resumes the same reply from the paused
   sample, nothing lost or repeated.

This module is pure logic: the evidence, the verdicts, the classifier protocol and the default
classifier, which needs nothing beyond the detector and the transcript.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, Protocol

import attrs

from .._args import check_choice, validator

__all__ = (
    "Verdict",
    "VERDICTS",
    "Evidence",
    "InterruptionClassifier",
    "LexiconClassifier",
    "ENGLISH_BACKCHANNELS",
    "ENGLISH_COMMANDS",
    "words_of",
)

Verdict = Literal["interruption", "backchannel", "noise"]
"""What the user's speech over the assistant was: ``"interruption"`` (cancel and truncate),
``"backchannel"`` (keep the reply going) or ``"noise"`` (it was not speech: keep going)."""
VERDICTS: tuple[Verdict, ...] = ("interruption", "backchannel", "noise")

ENGLISH_BACKCHANNELS: frozenset[str] = frozenset({
    "yeah", "yes", "yep", "yup", "ya", "uh huh", "uh-huh", "mhm", "mm hmm", "mm-hmm", "mmhmm",
    "hmm", "mm", "right", "ok", "okay", "sure", "i see", "got it", "cool", "nice", "great",
    "alright", "all right", "true", "exactly", "totally", "oh", "ah", "wow", "really",
    "interesting", "makes sense", "fair enough", "of course", "indeed", "gotcha",
})
"""Whole utterances that are backchannels in English (compared after :func:`words_of`;
repeats such as "yeah yeah" and "okay okay" count too). A phrase that adds anything ("yeah
but", "okay wait", "right, and Tuesday?") is a turn."""

ENGLISH_COMMANDS: frozenset[str] = frozenset({
    "stop", "wait", "no", "nope", "hold on", "hang on", "hold it", "one moment", "one second",
    "just a moment", "just a second", "a moment", "a second", "please stop", "stop please",
    "please wait", "wait please", "pause", "enough", "quiet", "shh", "shush", "sorry",
    "excuse me", "hey", "cancel", "never mind", "huh", "pardon",
})
"""Whole utterances, or runs of them ("no, wait", "stop stop"), that ask an English-speaking
assistant to stop: what a check of speech too short to confirm
(``BargeIn.check_speech_ms``) must hear to stop the reply. Short words from a run the
detector did not confirm are as often the assistant's own voice transcribed back (the
transcript filters keep 1-2 word transcripts, which could be the user's "yes") or a
neighbour's; a stop command is what such a short run is worth stopping for."""

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def words_of(text: str) -> tuple[str, ...]:
    """The lower-case words of ``text``, punctuation dropped ("Uh-huh." -> ``("uh-huh",)``)."""
    return tuple(_WORD.findall(text.lower()))


@attrs.frozen(kw_only=True)
class Evidence:
    """What is known about the user's speech since the assistant yielded.

    Attributes:
        speech_ms: how long the detector has heard the user since the onset (gaps inside
            speech not counted).
        silent_ms: how long the user has been silent now (0 while they talk).
        speaking: whether the last frame was taken for the user.
        since_yield_ms: time since the assistant yielded.
        transcript: the user's words, once the server transcribed the utterance (``None``:
            not yet, or the session asked for no transcription).
        server_heard: whether the server's own VAD heard this speech
            (``input_audio_buffer.speech_started`` during the yield, or a turn it had open
            when the assistant yielded): a second, independent ear, whose commit (or
            realtalk's, whichever comes first) brings the words.
        committed: whether realtalk committed the speech itself for its words, once the
            user had been silent ``BargeIn.commit_after_silence_ms``: a transcript is on its
            way.
        awaiting_words: whether the speech has been committed (by the server's VAD or by
            realtalk) and the transcript of a commit has not come yet: words are on their
            way.
        uncommitted_ms: of ``speech_ms``, how much came after the last commit (all of it
            before any): speech whose words no commit has asked for yet. The user who goes
            on after a pause ("yeah ... but the price?") is heard here. ``None``: not known
            (evidence made by hand); the rules that read it are then skipped.
        confirmed: whether the detector confirmed the speech (the assistant paused for it);
            ``False`` for the check of a run too short to confirm
            (``BargeIn.check_speech_ms``), which the reply plays on through, and which is
            noise unless its words say otherwise.
    """

    speech_ms: float
    silent_ms: float
    speaking: bool
    since_yield_ms: float
    transcript: str | None = None
    server_heard: bool = False
    committed: bool = False
    awaiting_words: bool = False
    uncommitted_ms: float | None = None
    confirmed: bool = True


class InterruptionClassifier(Protocol):
    """Judges the evidence; called after every microphone frame and transcript while the
    assistant has yielded, until it returns a verdict."""

    def decide(self, evidence: Evidence) -> Verdict | None:
        """The verdict, or ``None`` to wait for more evidence."""
        ...


@attrs.frozen(kw_only=True)
class LexiconClassifier:
    """The default classifier: words when they exist, else duration.

    - A transcript arrives: only backchannel words (``lexicon``) -> backchannel; any other
      word -> interruption (a command such as "stop" or "wait" is not in the lexicon); no
      words -> noise. Backchannel words wait for the rest when there is more: the user is
      still talking past ``max_backchannel_ms``, another commit's words are on their way,
      or ``more_speech_ms`` of speech came after the last commit ("yeah" of "yeah ... but
      the price?": realtalk commits that too once the user falls silent again).
    - No words yet, and the user keeps talking past ``max_backchannel_ms`` of speech: an
      interruption, decided while they still talk (a backchannel is a word or two). Not once
      the speech has been committed and its words are on their way (``awaiting_words``):
      then the words decide, since a noise taken for speech while they come (babble, after
      the user fell silent) must not turn a slow transcript of "oh, okay" into a turn.
    - Speech the detector never confirmed (``Evidence.confirmed`` false, the check of a
      short run) stops the reply only on a command (``commands``: "stop", "wait", "no",
      "hang on", ...); any other words are noise, and backchannel words a backchannel.
    - The user fell silent ``wait_for_words_ms`` ago and no transcript came: if the
      speech was committed (by the server's VAD, or by realtalk after
      ``BargeIn.commit_after_silence_ms``), or the server's VAD heard it, the words are on
      their way and are waited for (``BargeIn.max_yield_ms``
      bounds the wait); if not (the session asks for no transcription, or the commit was
      refused), no words will come and ``undecided`` is the verdict: by default an
      interruption, since a short "stop" that no transcript caught must still stop the
      assistant. Speech the detector never confirmed (``Evidence.confirmed`` false, a
      check) with no words is noise: the words are all that could make it a turn.

    Args:
        lexicon: whole utterances that are backchannels (lower case, see :func:`words_of`).
        max_backchannel_ms: speech longer than this is a turn.
        wait_for_words_ms: how long after the user falls silent to wait for a transcript.
        undecided: the verdict when neither words nor the server's VAD heard the speech
            within ``wait_for_words_ms`` of the user falling silent.
        commands: whole utterances that ask the assistant to stop, for speech the detector
            did not confirm (see :data:`ENGLISH_COMMANDS`).
        more_speech_ms: speech after the last commit (``Evidence.uncommitted_ms``) that
            makes backchannel words wait for the words of the rest (as long as an onset,
            ``BargeIn.min_speech_ms``: less is a stray frame of the room).
    """

    lexicon: frozenset[str] = ENGLISH_BACKCHANNELS
    commands: frozenset[str] = ENGLISH_COMMANDS
    max_backchannel_ms: float = 800.0
    wait_for_words_ms: float = 1000.0
    undecided: Verdict = attrs.field(default="interruption",
                                     validator=validator(check_choice, VERDICTS))
    more_speech_ms: float = 120.0

    def decide(self, evidence: Evidence) -> Verdict | None:
        """See the class docstring."""
        long = evidence.speech_ms > self.max_backchannel_ms
        if evidence.transcript is not None:
            verdict = self.judge_words(evidence.transcript)
            if (verdict == "interruption" and not evidence.confirmed
                    and not _all_phrases(words_of(evidence.transcript), self.commands)):
                return "noise"
            more = (evidence.awaiting_words or (long and evidence.speaking)
                    or (evidence.uncommitted_ms is not None
                        and evidence.uncommitted_ms >= self.more_speech_ms))
            if verdict == "backchannel" and more:
                return None  # the words of the rest decide with these
            return verdict
        if long and not evidence.awaiting_words:
            return "interruption"
        if not evidence.speaking and evidence.silent_ms >= self.wait_for_words_ms:
            if evidence.server_heard or evidence.committed:
                return None
            return self.undecided if evidence.confirmed else "noise"
        return None

    def judge_words(self, transcript: str) -> Verdict:
        """The verdict on an utterance's words alone."""
        words = words_of(transcript)
        if not words:
            return "noise"
        return "backchannel" if _all_phrases(words, self.lexicon) else "interruption"


def _all_phrases(words: tuple[str, ...], lexicon: Iterable[str]) -> bool:
    """Whether ``words`` is one or more lexicon phrases back to back ("yeah yeah", "okay,
    got it", "no, wait")."""
    phrases = sorted((tuple(p.split()) for p in lexicon), key=len, reverse=True)
    at = 0
    while at < len(words):
        for phrase in phrases:
            if words[at:at + len(phrase)] == phrase:
                at += len(phrase)
                break
        else:
            return False
    return True
