"""When each piece of a response's audio is released: the generation schedule.

The hosted service generates audio faster than real time, so a client holds seconds of
unplayed audio when the user barges in; this is exactly what makes truncation necessary.
:class:`Playout` reproduces that: after ``first_audio_latency_ms``, chunks of ``chunk_ms`` are
released every ``chunk_ms / generation_speed`` (``inf``: all at once). Each chunk carries the
words that *start* inside it, so transcript deltas travel with the audio they describe.
:class:`Schedule` is that cadence alone, which function call arguments share. Pure arithmetic
on the ``now`` it is given; no clock.
"""

from __future__ import annotations

import math

import attrs

from .voice import SpeechAudio, WordTiming

__all__ = ("Chunk", "Playout", "Schedule")


class Schedule:
    """When each of ``count`` pieces of a response is due: the first at ``first`` (seconds,
    caller's clock), then one every ``step`` seconds (``0``: all at once).

    Audio chunks and function call argument deltas are generated on the same cadence.
    """

    def __init__(self, count: int, *, first: float, step: float) -> None:
        self._count = count
        self._first = first
        self._step = step
        self._next = 0

    @classmethod
    def for_response(cls, count: int, *, start: float, first_latency_ms: float, chunk_ms: int,
                     generation_speed: float) -> Schedule:
        """A response's schedule: ``first_latency_ms`` after ``start``, then a piece every
        ``chunk_ms / generation_speed`` (``math.inf``: all at once)."""
        step = 0.0 if math.isinf(generation_speed) else chunk_ms / 1000.0 / generation_speed
        return cls(count, first=start + first_latency_ms / 1000.0, step=step)

    @property
    def finished(self) -> bool:
        """Whether every piece has been released."""
        return self._next >= self._count

    def next_deadline(self) -> float | None:
        """When the next piece is due, or ``None`` once all are out."""
        if self.finished:
            return None
        return self._first + self._next * self._step

    def finish_time(self) -> float:
        """When the last piece is (or was) due; the response completes then."""
        return self._first + max(self._count - 1, 0) * self._step

    def release(self, now: float) -> range:
        """The indices of the pieces due by ``now`` that were not released yet, in order."""
        start = self._next
        while not self.finished and self._first + self._next * self._step <= now:
            self._next += 1
        return range(start, self._next)


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
        n_chunks = math.ceil(len(self._pcm) / self._chunk_bytes) if self._pcm else 0
        #: When each chunk is due, and when the response completes.
        self.schedule = Schedule.for_response(
            n_chunks, start=start, first_latency_ms=first_audio_latency_ms, chunk_ms=chunk_ms,
            generation_speed=generation_speed)
        self._next_word = 0

    def release(self, now: float) -> list[Chunk]:
        """The chunks due by ``now`` that were not released yet, in order."""
        chunks: list[Chunk] = []
        for index in self.schedule.release(now):
            audio = self._pcm[index * self._chunk_bytes : (index + 1) * self._chunk_bytes]
            end_ms = (index + 1) * self._chunk_ms
            first_word = self._next_word
            while self._next_word < len(self._words) and (
                self._words[self._next_word].start_ms < end_ms
            ):
                self._next_word += 1
            chunks.append(Chunk(index, audio, self._words[first_word : self._next_word]))
        return chunks
