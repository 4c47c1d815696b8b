"""When each piece of a response's audio is released: the generation schedule.

The hosted service generates audio faster than real time, so a client holds seconds of
unplayed audio when the user barges in; this is exactly what makes truncation necessary.
:class:`Playout` reproduces that: after ``first_audio_latency_ms``, chunks of ``chunk_ms`` are
released every ``chunk_ms / generation_speed`` (``inf``: all at once). Each chunk carries the
words that *start* inside it, so transcript deltas travel with the audio they describe.
Pure arithmetic on the ``now`` it is given; no clock.
"""

from __future__ import annotations

import math

import attrs

from .voice import SpeechAudio, WordTiming

__all__ = ("Chunk", "Playout")


@attrs.frozen
class Chunk:
    """A released piece of audio (PCM16 bytes) and the words that start in it."""

    index: int
    audio: bytes
    words: tuple[WordTiming, ...]


class Playout:
    """The release schedule of one response's audio.

    Args:
        speech: the whole reply, already synthesized.
        start: the time (seconds, caller's clock) the response was created.
        first_audio_latency_ms: delay before the first chunk.
        chunk_ms: audio per chunk.
        generation_speed: multiple of real time; ``math.inf`` releases everything at once.
    """

    def __init__(
        self,
        speech: SpeechAudio,
        *,
        start: float,
        first_audio_latency_ms: float,
        chunk_ms: int,
        generation_speed: float,
    ) -> None:
        self._pcm = speech.pcm()
        self._words = speech.words
        self._chunk_bytes = chunk_ms * speech.sample_rate // 1000 * 2
        self._chunk_ms = chunk_ms
        self._n_chunks = math.ceil(len(self._pcm) / self._chunk_bytes) if self._pcm else 0
        self._first = start + first_audio_latency_ms / 1000.0
        self._step = 0.0 if math.isinf(generation_speed) else chunk_ms / 1000.0 / generation_speed
        self._next = 0
        self._next_word = 0

    @property
    def finished(self) -> bool:
        """Whether every chunk has been released."""
        return self._next >= self._n_chunks

    def next_deadline(self) -> float | None:
        """When the next chunk is due, or ``None`` once all are out."""
        if self.finished:
            return None
        return self._first + self._next * self._step

    def finish_time(self) -> float:
        """When the last chunk is (or was) due; the response completes then."""
        return self._first + max(self._n_chunks - 1, 0) * self._step

    def release(self, now: float) -> list[Chunk]:
        """The chunks due by ``now`` that were not released yet, in order."""
        chunks: list[Chunk] = []
        while not self.finished and self._first + self._next * self._step <= now:
            index = self._next
            audio = self._pcm[index * self._chunk_bytes : (index + 1) * self._chunk_bytes]
            end_ms = (index + 1) * self._chunk_ms
            first_word = self._next_word
            while self._next_word < len(self._words) and (
                self._words[self._next_word].start_ms < end_ms
            ):
                self._next_word += 1
            chunks.append(Chunk(index, audio, self._words[first_word : self._next_word]))
            self._next += 1
        return chunks
