"""The audio's opinion on a user utterance: was the user heard in it, or could it only be echo?

A one- or two-word transcript ("yes", "sunny?") cannot be told from echo by its text: the
assistant may well have said the same word. The transcript filters therefore judge short
transcripts from the audio (:attr:`~realtalk.echo.transcript.TranscriptContext.audio_near_end`),
and this log is where that opinion comes from. The conversation notes, for every microphone
frame it sends upstream, whether its barge-in detector (VAD and echo gate, on the cleaned
audio) took the frame for the user, and whether the speaker was playing then (or just before:
the room's delay and reverberation). When a transcript arrives with the capture times of its
audio (the server VAD's turn), :meth:`NearEndLog.opinion` says:

- ``True``: the detector heard the user for at least ``min_heard_ms`` without a break in it,
  or nothing was playing, so it cannot be echo;
- ``False``: something was playing and the detector heard no user: echo is the likely source;
- ``None``: unknown (no detector; frames without a speaker reference, where the detector
  cannot tell echo from the user; a span never sent).
"""

from __future__ import annotations

import collections
import warnings

import attrs

from ..errors import ConfigurationError

__all__ = ("NearEndLog",)

# A reference frame louder than this (mean square in full scale 1: -60 dBFS) is playing.
_PLAYING_MEAN_SQUARE = 1e-6
_MIN_HEARD_MS = 100.0


@attrs.frozen
class _Note:
    start: float
    end: float
    speech: bool | None
    echo_possible: bool | None


class NearEndLog:
    """Per-frame notes on the uplinked microphone audio, and the opinion on a span of it.

    Args:
        min_heard_ms: how long an unbroken stretch of the utterance the detector must have
            taken for the user for the audio to say "the user" (not
            :attr:`BargeIn.min_speech_ms <realtalk.BargeIn.min_speech_ms>`, the speech that
            confirms a barge-in onset).
        echo_tail_ms: how long after the speaker stops its echo may still arrive (the path's
            delay plus the room's reverberation).
        margin_ms: how far the span is widened on each side (the server's VAD and the local
            detector place an utterance's edges a little differently).
        keep_s: how much audio is remembered (transcripts arrive a few seconds late).
        min_speech_ms: the old name of ``min_heard_ms``, deprecated (a
            :class:`DeprecationWarning`): it read as ``BargeIn.min_speech_ms``, which is
            another length.

    Raises:
        ConfigurationError: a negative length, or both ``min_heard_ms`` and
            ``min_speech_ms``.
    """

    def __init__(self, *, min_heard_ms: float = _MIN_HEARD_MS, echo_tail_ms: float = 300.0,
                 margin_ms: float = 100.0, keep_s: float = 60.0,
                 min_speech_ms: float | None = None) -> None:
        heard_name = "min_heard_ms"
        if min_speech_ms is not None:
            # Deprecated in 0.1 (2026-12): remove the keyword in the release after.
            warnings.warn("NearEndLog(min_speech_ms=...) is deprecated; use min_heard_ms=... "
                          "(the same value)", DeprecationWarning, stacklevel=2)
            if min_heard_ms != _MIN_HEARD_MS:
                raise ConfigurationError(
                    f"got both min_heard_ms={min_heard_ms} and its deprecated old name "
                    f"min_speech_ms={min_speech_ms}; pass min_heard_ms only")
            heard_name, min_heard_ms = "min_speech_ms", min_speech_ms
        for name, value in ((heard_name, min_heard_ms), ("echo_tail_ms", echo_tail_ms),
                            ("margin_ms", margin_ms), ("keep_s", keep_s)):
            if value < 0:
                raise ConfigurationError(f"{name} must be >= 0, got {value}")
        self.min_heard_s = min_heard_ms / 1000.0
        self.echo_tail_s = echo_tail_ms / 1000.0
        self.margin_s = margin_ms / 1000.0
        self.keep_s = keep_s
        self._notes: collections.deque[_Note] = collections.deque()
        self._last_playing: float | None = None

    def record(self, start: float, duration: float, *, speech: bool | None,
               reference_mean_square: float | None) -> None:
        """Note one uplinked frame captured from ``start`` for ``duration`` seconds.

        Args:
            speech: whether the detector took it for the user (``None``: no detector ran).
            reference_mean_square: the speaker reference's power in the frame (full scale
                1.0, :func:`realtalk.audio.pcm.mean_square`), ``None`` when the frame carried
                no reference.
        """
        end = start + duration
        echo_possible: bool | None = None
        if reference_mean_square is not None:
            if reference_mean_square > _PLAYING_MEAN_SQUARE:
                self._last_playing = end
            echo_possible = (self._last_playing is not None
                             and start <= self._last_playing + self.echo_tail_s)
        self._notes.append(_Note(start, end, speech, echo_possible))
        while self._notes and self._notes[0].end < end - self.keep_s:
            self._notes.popleft()

    def opinion(self, start: float | None, end: float | None) -> bool | None:
        """The audio's opinion on the utterance captured from ``start`` to ``end`` (``end``
        ``None``: up to the newest frame); ``None`` when it cannot tell."""
        if start is None:
            return None
        lo = start - self.margin_s
        hi = (end if end is not None else float("inf")) + self.margin_s
        notes = [n for n in self._notes if n.end > lo and n.start < hi]
        if not notes or any(n.speech is None or n.echo_possible is None for n in notes):
            # No detector, or frames without a reference: a detector that does not know what
            # the speaker played cannot tell its echo from the user.
            return None
        # The longest unbroken stretch the detector took for the user: scattered frames of
        # residual echo that slipped through add up over a long utterance, a voice does not
        # need them to.
        longest = run = 0.0
        for n in notes:
            run = run + (n.end - n.start) if n.speech else 0.0
            longest = max(longest, run)
        if longest >= self.min_heard_s - 1e-9:
            return True
        # Nothing playing: whatever the server heard, it was not the assistant.
        return not any(n.echo_possible for n in notes)

    def reset(self) -> None:
        """Forget every note."""
        self._notes.clear()
        self._last_playing = None
