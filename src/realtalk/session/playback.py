"""What the user has actually heard: the playback tracker.

Truncation needs the milliseconds *played*, not received or sent (the server generates faster
than real time, so at a barge-in seconds of audio usually sit unplayed in the queue). The
tracker lives in one cumulative sample space shared with the audio output: every queued
segment occupies ``[start, end)`` of it, and the output reports how many samples have left the
speaker so far (``played``). From that it knows, per ``(item_id, content_index)``, how much was
received and how much was heard, and which item is playing now. It never reads a clock.
"""

from __future__ import annotations

import collections
import logging

import attrs

__all__ = ("PlaybackTracker", "ItemKey")

logger = logging.getLogger("realtalk.session")

ItemKey = tuple[str, int]
"""An assistant audio part: ``(item_id, content_index)``."""

# Items older than this many are forgotten: a conversation can run for an hour.
_MAX_ITEMS = 64


@attrs.define
class _Segment:
    key: ItemKey
    start: int
    end: int


class PlaybackTracker:
    """Counts queued and played samples per assistant audio part.

    Args:
        sample_rate: the output sample rate, used to turn samples into milliseconds.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._written = 0
        self._played = 0
        self._segments: collections.deque[_Segment] = collections.deque()
        self._received: collections.OrderedDict[ItemKey, int] = collections.OrderedDict()
        self._heard: dict[ItemKey, int] = {}

    @property
    def written(self) -> int:
        """Cumulative position after the last queued sample."""
        return self._written

    @property
    def played(self) -> int:
        """Cumulative samples that have been played."""
        return self._played

    @property
    def buffered(self) -> int:
        """Samples queued but not played yet."""
        return self._written - self._played

    def enqueue(self, key: ItemKey, n_samples: int) -> None:
        """Record that ``n_samples`` of ``key`` were queued for playback after everything else."""
        if n_samples <= 0:
            return
        last = self._segments[-1] if self._segments else None
        if last is not None and last.key == key and last.end == self._written:
            last.end += n_samples
        else:
            self._segments.append(_Segment(key, self._written, self._written + n_samples))
        self._written += n_samples
        if key not in self._received:
            self._received[key] = 0
            self._heard[key] = 0
            while len(self._received) > _MAX_ITEMS:
                old, _ = self._received.popitem(last=False)
                self._heard.pop(old, None)
        self._received[key] += n_samples

    def update(self, played_total: int) -> None:
        """Take the output's cumulative played count; credits each part with what it heard."""
        if played_total < self._played:
            logger.warning(
                "played count went backwards (%d < %d); ignoring", played_total, self._played
            )
            return
        if played_total > self._written:
            logger.warning(
                "output reports %d samples played but only %d were queued; clamping",
                played_total, self._written,
            )
            played_total = self._written
        while self._segments and self._played < played_total:
            seg = self._segments[0]
            upto = min(seg.end, played_total)
            if seg.key in self._heard:
                self._heard[seg.key] += upto - max(seg.start, self._played)
            self._played = upto
            if upto >= seg.end:
                self._segments.popleft()
        self._played = played_total

    @property
    def last_queued(self) -> ItemKey | None:
        """The part most recently queued (it may have finished playing)."""
        return next(reversed(self._received), None)

    def playing(self) -> ItemKey | None:
        """The part whose audio is at the play head, or ``None`` if nothing is queued."""
        return self._segments[0].key if self._segments else None

    def heard_ms(self, key: ItemKey) -> float:
        """Milliseconds of ``key`` that have been played."""
        return self._heard.get(key, 0) * 1000.0 / self.sample_rate

    def received_ms(self, key: ItemKey) -> float:
        """Milliseconds of ``key`` that were queued (received from the server and kept)."""
        return self._received.get(key, 0) * 1000.0 / self.sample_rate

    def clear(self) -> None:
        """Forget unplayed audio, as the output does when its queue is cleared."""
        self._segments.clear()
        self._written = self._played

    def resync(self, played_total: int) -> None:
        """After a clear, take the output's exact played count at the moment it stopped.

        A device may play a few more samples between the last position report and the clear;
        the next audio is placed after them, so positions stay aligned to the sample.
        """
        if self._segments or played_total < self._played:
            return
        self._played = self._written = played_total
