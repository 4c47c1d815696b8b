"""The input audio buffer: appended microphone audio, turn detection, and what a commit takes.

:class:`InputBuffer` keeps the audio appended since the last commit or clear, feeds it to the
server VAD when turn detection is on, and turns VAD decisions into turns: a
:class:`TurnStarted` when speech begins and a :class:`TurnEnded` carrying the turn's audio
(``prefix_padding_ms`` before the onset up to where the silence was confirmed) when it ends.
It knows nothing about items, ids or events; :class:`~.session.ServerSession` does.

Offsets are session sample counts: every sample ever appended, as the hosted service reports
``audio_start_ms`` / ``audio_end_ms``.
"""

from __future__ import annotations

import attrs

from ..audio.pcm import bytes_to_int16
from ..session_config import PCM_SAMPLE_RATE, TurnDetection
from .vad import DEFAULT_MIN_SPEECH_MS, ServerVad, VadSpeechStarted

__all__ = ("InputBuffer", "TurnEnded", "TurnEvent", "TurnStarted")

_BYTES_PER_MS = PCM_SAMPLE_RATE * 2 // 1000
_DEFAULT_PADDING_MS = 300
_DEFAULT_SILENCE_MS = 500


@attrs.frozen
class TurnStarted:
    """The VAD heard speech begin ``audio_start_ms`` into the session's input audio."""

    audio_start_ms: int


@attrs.frozen(eq=False)
class TurnEnded:
    """Speech ended at ``audio_end_ms``; ``audio`` is the turn's PCM16, taken off the buffer."""

    audio_end_ms: int
    audio: bytes


TurnEvent = TurnStarted | TurnEnded


class InputBuffer:
    """Uncommitted input audio plus the VAD that watches it (if turn detection is on)."""

    def __init__(self, *, min_speech_ms: int = DEFAULT_MIN_SPEECH_MS) -> None:
        self.min_speech_ms = min_speech_ms
        self._pcm = bytearray()
        self._start = 0  # session sample offset of the buffer's first sample
        self._samples_in = 0  # every sample ever appended
        self._vad: ServerVad | None = None
        self._keep_from = 0  # where the open turn's audio begins (onset minus padding)

    @property
    def buffered_ms(self) -> float:
        """How much audio is waiting to be committed."""
        return len(self._pcm) / _BYTES_PER_MS

    @property
    def in_turn(self) -> bool:
        """Whether the VAD has an open turn (started, not yet ended)."""
        return self._vad is not None and self._vad.in_speech

    def configure(self, turn: TurnDetection | None) -> None:
        """Use ``turn``'s VAD settings from now on, or no VAD (manual turns) for ``None``.

        ``semantic_vad`` has no energy threshold; the energy VAD with defaults stands in for it.
        An open turn is forgotten.
        """
        if turn is None:
            self._vad = None
            return
        self._vad = ServerVad(
            threshold=turn.threshold if turn.threshold is not None else 0.5,
            prefix_padding_ms=_or(turn.prefix_padding_ms, _DEFAULT_PADDING_MS),
            silence_duration_ms=_or(turn.silence_duration_ms, _DEFAULT_SILENCE_MS),
            min_speech_ms=self.min_speech_ms,
            origin_sample=self._samples_in,
        )

    def append(self, pcm: bytes) -> list[TurnEvent]:
        """Add PCM16 audio; return the turn events it completes, in order.

        Raises:
            AudioError: ``pcm`` has an odd number of bytes.
        """
        samples = bytes_to_int16(pcm)
        self._pcm += pcm
        self._samples_in += len(samples)
        if self._vad is None:
            return []
        events: list[TurnEvent] = []
        for decision in self._vad.feed(samples):
            if isinstance(decision, VadSpeechStarted):
                self._keep_from = decision.keep_from_sample
                events.append(TurnStarted(decision.audio_start_ms))
            else:
                audio = self._take(self._keep_from, decision.detected_sample)
                events.append(TurnEnded(decision.audio_end_ms, audio))
        if not self._vad.in_speech:
            # Between turns only the padding window can end up in an item; drop older audio so
            # a long silent stream does not grow the buffer forever.
            keep = (self._vad.prefix_padding_ms + 1000) * PCM_SAMPLE_RATE // 1000
            excess = len(self._pcm) // 2 - keep
            if excess > 0:
                self._take(self._start, self._start + excess)
        return events

    def commit(self) -> bytes:
        """Take everything buffered (from the open turn's padded onset, if any); end the turn."""
        start = self._start
        if self._vad is not None and self._vad.in_speech:
            start = max(start, self._keep_from)
            self._vad.reset()
        return self._take(start, self._samples_in)

    def clear(self) -> None:
        """Drop everything buffered and any open turn."""
        self._take(self._start, self._samples_in)
        if self._vad is not None:
            self._vad.reset()

    def _take(self, start: int, end: int) -> bytes:
        """The audio between two session sample offsets; drops everything before ``end``."""
        first = max(0, start - self._start) * 2
        last = min(len(self._pcm), max(0, end - self._start) * 2)
        pcm = bytes(self._pcm[first:last])
        del self._pcm[:last]
        self._start += last // 2
        return pcm


def _or(value: int | None, default: int) -> int:
    return default if value is None else value
