"""The client's echo defences in one place, sans-I/O: what a conversation does to every
microphone frame and every user transcript so that the assistant never answers its own voice.

The conversation engine (:mod:`realtalk.engine`) runs one, under a live
:class:`~realtalk.Conversation` and the offline :class:`~realtalk.sim.Simulation` alike, so what
the simulator measures is what the SDK does:

- **per microphone frame** (:meth:`EchoControl.microphone`): the audio-level filter (the
  canceller) cleans it; the echo-risk watch judges how much echo is left and, when the level
  changes, raises the barge-in bar (twice ``min_speech_ms``, a 6 dB wider gate margin) or
  falls back to half-duplex (the microphone is muted while the assistant speaks), and restores
  the app's settings when the echo is under control again;
- **per uplinked frame** (:meth:`EchoControl.sent`): the detector's decision and whether the
  speaker was playing go into the :class:`~realtalk.echo.NearEndLog`;
- **per conversation event** (:meth:`EchoControl.screen`): a user transcript is judged by the
  transcript filters, given the assistant speech the user heard and the audio's opinion on the
  utterance, and replaced by an :class:`~realtalk.echo.EchoTranscriptDropped` when it is echo;
  the engine then has the session delete that item upstream (``conversation.item.delete``) and
  cancel a reply the server started for it that has not played yet.
"""

from __future__ import annotations

import logging

import attrs

from ..audio.frame import AudioFrame
from ..audio.pcm import mean_square
from ..session import ConversationEvent, State, UserTranscript
from ..session.barge_in import BargeIn
from ..vad.onset import OnsetDetector
from .defaults import resolve
from .defences import EchoDefences
from .gate import EchoGate
from .near_end import NearEndLog
from .transcript import (
    AssistantSpeechHistory,
    EchoTranscriptDropped,
    TranscriptVerdict,
    default_transcript_filters,
    normalize,
)
from .watch import EchoRiskChange, EchoRiskLevel, EchoRiskWatch

__all__ = ("EchoControl",)

logger = logging.getLogger("realtalk.echo.control")

RAISED_MIN_SPEECH = 2.0
"""At the ``"raised"`` echo risk, ``min_speech_ms`` is this many times the app's."""
RAISED_GATE_MARGIN = 4.0
"""... and the echo gate's margin this many times (6 dB) wider."""

# The assistant is audible in these states: half-duplex mutes the microphone in them.
_ASSISTANT_AUDIBLE = (State.SPEAKING, State.CANCELLING)
# How long after an item stopped playing its words can still come back as echo: the room's
# tail, the commit and the transcription.
_LATELY_S = 3.0
# How far before a speech's onset the words its echo could hold begin: the proportional word
# timing and the detector's onset are each off by a few hundred milliseconds (the transcript
# filters' TimingFilter.slack_s).
_ONSET_SLACK_S = 0.8


class EchoControl:
    """The echo defences of one conversation.

    Args:
        defences: the settings (each ``"default"`` is built here, at ``sample_rate``).
        sample_rate: the microphone frames' rate.
        detector: the barge-in onset detector, whose settings and gate the watch adjusts.
        barge_in: the app's barge-in settings, restored when the echo risk is back to normal.
    """

    def __init__(self, defences: EchoDefences, *, sample_rate: int,
                 detector: OnsetDetector | None, barge_in: BargeIn | None) -> None:
        self.defences = defences
        self.echo = resolve(defences.canceller, sample_rate)
        self.detector = detector
        self.barge_in = barge_in
        watch = defences.watch
        self.watch = EchoRiskWatch() if isinstance(watch, str) else watch
        filters = defences.transcript_filters
        self.transcript_filters = (default_transcript_filters() if isinstance(filters, str)
                                   else filters)
        self.half_duplex = defences.half_duplex
        self.level: EchoRiskLevel = "normal"
        self.history = AssistantSpeechHistory()
        self.near_end = NearEndLog()
        """Per uplinked frame: did the detector hear the user, was the speaker playing."""
        self.muted_frames = 0
        gate = detector.gate if detector is not None else None
        self._gate_margin = gate.margin if isinstance(gate, EchoGate) else 1.0
        self._reference_power: float | None = None
        self.echo_likeness: float | None = None
        """How much of the last frame :meth:`microphone` cleaned follows what the speaker
        played (``EchoResult.echo_likeness``), for the detector; ``None`` when the filter did
        not tell."""

    # -- audio ---------------------------------------------------------------------------------

    def microphone(self, frame: AudioFrame, captured_at: float, state: State
                   ) -> tuple[AudioFrame | None, EchoRiskChange | None]:
        """Clean one captured frame. Returns the frame for the detector and the server
        (``None``: muted, send nothing) and the echo-risk change it caused, if any."""
        self._reference_power = (mean_square(frame.reference) if frame.reference is not None
                                 else None)
        change = None
        self.echo_likeness = None
        if self.echo is not None:
            # Even when muted below: the canceller and the watch keep learning from the echo.
            result = self.echo.process(frame)
            self.echo_likeness = result.echo_likeness
            if self.watch is not None and self._reference_power is not None:
                # Audio time, not the clock: the watch's hold times are seconds of playback.
                change = self.watch.update(
                    captured_at, mean_square(frame.samples), mean_square(result.frame.samples),
                    self._reference_power, result.residual_echo)
                if change is not None:
                    self._apply(change)
            frame = result.frame
        muted = self.half_duplex or self.level == "half_duplex"
        if muted and state in _ASSISTANT_AUDIBLE:
            # Half-duplex, the simplest echo fix, kept as a mode (and the watch's last resort):
            # the microphone is deaf while the assistant speaks, so nothing (echo included)
            # reaches the server or the detector.
            self.muted_frames += 1
            return None, change
        return frame, change

    def sent(self, frame: AudioFrame, captured_at: float) -> None:
        """``frame`` (as :meth:`microphone` returned it) went through the detector and
        upstream."""
        self.near_end.record(
            captured_at, frame.duration,
            speech=self.detector.heard if self.detector is not None else None,
            reference_mean_square=self._reference_power)

    def _apply(self, change: EchoRiskChange) -> None:
        logger.info("echo risk %s -> %s: %s", change.previous, change.level, change.reason)
        self.level = change.level
        if self.detector is None or self.barge_in is None:
            return
        gate = self.detector.gate
        if change.level == "normal":
            self.detector.policy.settings = self.barge_in
            if isinstance(gate, EchoGate):
                gate.margin = self._gate_margin
        else:
            self.detector.policy.settings = attrs.evolve(
                self.barge_in, min_speech_ms=self.barge_in.min_speech_ms * RAISED_MIN_SPEECH)
            if isinstance(gate, EchoGate):
                gate.margin = self._gate_margin * RAISED_GATE_MARGIN

    # -- transcripts ---------------------------------------------------------------------------

    def screen(self, event: ConversationEvent
               ) -> tuple[ConversationEvent | EchoTranscriptDropped, tuple[TranscriptVerdict, ...]]:
        """Judge ``event`` if it is a user transcript: the event to deliver in its place (an
        :class:`EchoTranscriptDropped` when it is echo, whose item the caller then has the
        session forget upstream) and the filters' verdicts. Every event must pass through
        here, in order: the assistant's speech is learnt from them."""
        out: ConversationEvent | EchoTranscriptDropped = event
        verdicts: tuple[TranscriptVerdict, ...] = ()
        if isinstance(event, UserTranscript) and self.transcript_filters is not None:
            context = self.history.context_for(
                event, speech_started_at=event.speech_started_at,
                audio_near_end=self.near_end.opinion(event.speech_started_at,
                                                     event.speech_ended_at))
            judgement, dropped = self.transcript_filters.screen(event, context)
            verdicts = judgement.verdicts
            if dropped is not None:
                out = dropped
        self.history.observe(out)
        return out, verdicts

    def assistant_said(self, text: str, now: float, *, since: float | None = None) -> bool:
        """Whether every word of ``text`` is one the assistant has played in an item still
        playing, or ended in the last few seconds: words it could have heard itself say.

        With ``since`` (the onset of the speech the words were transcribed from), only the
        words played from shortly before it on count: what the echo of the playback over that
        speech could hold. A user who repeats the assistant ("Tuesday?") quotes what it said
        before they began, as the transcript filters' timing filter also assumes."""
        words = normalize(text)
        if not words:
            return False
        said: set[str] = set()
        for speech in self.history.speeches(now):
            if speech.ended_at is not None and now - speech.ended_at > _LATELY_S:
                continue
            if since is None:
                said.update(normalize(speech.heard_text))
            elif speech.ended_at is None or speech.ended_at >= since - _ONSET_SLACK_S:
                said.update(speech.heard_words_from(since - _ONSET_SLACK_S))
        return all(w in said for w in words)
