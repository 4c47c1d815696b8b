"""A transcriber for simulations that knows what every sound at the microphone was.

The embedded server's transcribers cannot recognise speech; to measure the transcript-level echo
defence, a simulation needs a recogniser whose output is known to be right. The
:class:`OracleTranscriber` is that recogniser, built from the simulation's ground truth: it
finds where each committed user item's audio lies in what the client sent upstream, then

- if the scripted user spoke for at least ``min_user_ms`` in that span, returns the user's
  words (nothing for a sound without words: a cough, a click);
- otherwise the item holds no user at all, only what the speaker put in the room: it returns
  every word the assistant played during the span (and ``echo_tail_ms`` before it, the room's
  delay and reverberation). That is the worst case for echo: a recogniser that transcribes
  whatever residual of the assistant's voice made the server's VAD commit a turn.

Each transcription is kept in :attr:`OracleTranscriber.transcripts` with its source, so a
benchmark can count the echo transcripts the server produced and how many the transcript
filters let through. :attr:`OracleTranscriber.mishear`, when set, turns the recogniser from
perfect into a realistic one (word errors, clipped edges) for the words of every item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import attrs
import numpy as np
import numpy.typing as npt

from ..server.voice import WordTiming
from ..session.playback import ItemKey

__all__ = ("OracleTranscriber", "OracleTranscript")

_MATCH = 240  # samples compared to find a committed item's end in the uplinked audio


@attrs.frozen(kw_only=True)
class OracleTranscript:
    """One transcription: the item's span at the microphone (seconds of audio), its text, and
    whether it came from the user or from the assistant's echo."""

    start_s: float
    end_s: float
    text: str
    source: Literal["user", "echo"]


class OracleTranscriber:
    """A :class:`~realtalk.server.responder.Transcriber` fed the simulation's ground truth.

    :class:`~realtalk.sim.Simulation` (``transcriber_factory="oracle"``) calls
    :meth:`uplinked`, :meth:`speaker` and :meth:`user_spoke` as it runs.

    Args:
        sample_rate: the microphone's rate.
        words: an item's word timings (the server's), by item id.
        min_user_ms: how much of a user utterance must fall in a committed item for the user
            to be what the recogniser hears.
        echo_tail_ms: how long before the span the assistant's words may still be heard in it.
    """

    def __init__(self, sample_rate: int, words: Callable[[str], Sequence[WordTiming]], *,
                 min_user_ms: float = 100.0, echo_tail_ms: float = 300.0) -> None:
        self.sample_rate = sample_rate
        self._words = words
        self.min_user = round(sample_rate * min_user_ms / 1000)
        self.echo_tail = round(sample_rate * echo_tail_ms / 1000)
        self.transcripts: list[OracleTranscript] = []
        self.mishear: Callable[[Sequence[str]], Sequence[str]] | None = None
        """How the recogniser mishears the words of an item (``None``: it does not)."""
        self._sent: list[npt.NDArray[np.int16]] = []
        self._sent_at: list[tuple[int, int]] = []  # (offset in the uplink, microphone sample)
        self._sent_total = 0
        self._playing: list[tuple[int, ItemKey, float]] = []  # (mic sample, item, heard ms)
        self._users: list[tuple[int, int, str]] = []

    # -- fed by the simulation -----------------------------------------------------------------

    def uplinked(self, samples: npt.NDArray[np.int16], mic_sample: int) -> None:
        """The client sent ``samples``, captured from microphone sample ``mic_sample``."""
        self._sent.append(samples)
        self._sent_at.append((self._sent_total, mic_sample))
        self._sent_total += len(samples)

    def speaker(self, mic_sample: int, key: ItemKey | None, heard_ms: float) -> None:
        """By microphone sample ``mic_sample`` the speaker had played ``heard_ms`` of item
        ``key`` (``None``: nothing playing)."""
        if key is not None:
            self._playing.append((mic_sample, key, heard_ms))

    def user_spoke(self, start: int, end: int, text: str) -> None:
        """The scripted user's ``text`` reaches the microphone over samples [start, end)."""
        self._users.append((start, end, text))

    # -- the Transcriber protocol --------------------------------------------------------------

    def transcribe(self, audio: npt.NDArray[np.int16], sample_rate: int) -> str:
        """What a perfect recogniser would hear in ``audio`` (a committed user item)."""
        span = self._locate(audio)
        if span is None:
            return ""
        start, end = span
        heard = [text for lo, hi, text in self._users
                 if min(hi, end) - max(lo, start) >= self.min_user]
        source: Literal["user", "echo"] = "user" if heard else "echo"
        # A user sound without words (a cough) is heard as nothing, not as the echo under it.
        words = " ".join(heard).split() if heard else self._played(start - self.echo_tail, end)
        if self.mishear is not None and words:
            words = list(self.mishear(words))
        text = " ".join(words)
        self.transcripts.append(OracleTranscript(
            start_s=start / self.sample_rate, end_s=end / self.sample_rate, text=text,
            source=source))
        return text

    def _locate(self, audio: npt.NDArray[np.int16]) -> tuple[int, int] | None:
        """The microphone samples [start, end) the committed ``audio`` was captured over: its
        end is matched sample for sample against the newest uplinked audio (the server
        commits what it has just received)."""
        if len(audio) < _MATCH or not self._sent:
            return None
        recent: list[npt.NDArray[np.int16]] = []
        size = 0
        for chunk in reversed(self._sent):
            recent.append(chunk)
            size += len(chunk)
            if size >= 3 * self.sample_rate + len(audio):
                break
        sent = np.concatenate(recent[::-1])
        offset0 = self._sent_total - len(sent)
        tail = audio[-_MATCH:]
        windows = np.lib.stride_tricks.sliding_window_view(sent, _MATCH)
        candidates = np.flatnonzero(windows[:, 0] == tail[0])
        hits = candidates[(windows[candidates] == tail).all(axis=1)]
        if not len(hits):
            return None
        end_offset = offset0 + int(hits[-1]) + _MATCH
        return self._mic_sample(end_offset - len(audio)), self._mic_sample(end_offset)

    def _mic_sample(self, offset: int) -> int:
        """The microphone sample that uplink offset ``offset`` was captured at."""
        for sent_offset, mic_sample in reversed(self._sent_at):
            if sent_offset <= offset:
                return mic_sample + offset - sent_offset
        return offset

    def _played(self, start: int, end: int) -> list[str]:
        """The assistant's words played between microphone samples ``start`` and ``end``."""
        spans: dict[ItemKey, list[float]] = {}
        before: dict[ItemKey, float] = {}
        for sample, key, heard in self._playing:
            if sample <= start:
                before[key] = heard
            elif sample <= end:
                lo_hi = spans.setdefault(key, [before.get(key, 0.0), heard])
                lo_hi[1] = heard
        words: list[str] = []
        for (item_id, _), (lo, hi) in spans.items():
            words.extend(w.word for w in self._words(item_id) if w.start_ms < hi and w.end_ms > lo)
        return words
