"""Server-side voice activity detection on the input audio buffer (``server_vad``).

Energy per 20 ms frame against a level derived from ``TurnDetection.threshold``:

    level_dbfs = -70 + 60 * threshold

so the default ``threshold=0.5`` means -40 dBFS, ``0.0`` means -70 dBFS (almost anything) and
``1.0`` means -10 dBFS (only very loud input). Speech at the microphone sits around -20 to
-30 dBFS, a quiet room below -50 dBFS; as on the hosted service, a higher threshold is better in
noise.

- **Start.** Speech is confirmed after ``min_speech_ms`` (:data:`DEFAULT_MIN_SPEECH_MS`, 200 ms,
  by default) of consecutive loud frames, so a click does not count. ``audio_start_ms`` is the
  offset of the first loud frame: where speech began, not where detection happened.
  ``prefix_padding_ms`` does not move that offset; it says how much audio *before* it the
  committed user item keeps (see :attr:`VadSpeechStarted.keep_from_sample`).
- **Stop.** After ``silence_duration_ms`` of consecutive quiet frames. ``audio_end_ms`` is the
  end of the last loud frame; the decision is taken ``silence_duration_ms`` later
  (:attr:`VadSpeechStopped.detected_sample`), which is where the committed audio ends.

Offsets count every sample fed since the detector was created (the whole session's input
audio, as on the hosted service), and do not restart on commit or clear. Appends of any size
work: a partial frame waits for the next one.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from ..session_config import PCM_SAMPLE_RATE

__all__ = ("FRAME_MS", "DEFAULT_MIN_SPEECH_MS", "ServerVad", "VadEvent", "VadSpeechStarted",
           "VadSpeechStopped", "threshold_to_dbfs")

FRAME_MS = 20


def threshold_to_dbfs(threshold: float) -> float:
    """The frame level (dBFS) that ``threshold`` in [0, 1] stands for: ``-70 + 60 * threshold``.

    Raises:
        ValueError: ``threshold`` is outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold={threshold!r} must be between 0.0 and 1.0")
    return -70.0 + 60.0 * threshold


@attrs.frozen
class VadSpeechStarted:
    """Speech began at ``audio_start_ms``; it was confirmed once ``detected_sample`` was fed.

    ``keep_from_sample`` is where the committed audio should begin: the onset minus
    ``prefix_padding_ms`` (never before sample 0).
    """

    audio_start_ms: int
    detected_sample: int
    keep_from_sample: int


@attrs.frozen
class VadSpeechStopped:
    """Speech ended at ``audio_end_ms``; silence confirmed it at ``detected_sample``."""

    audio_end_ms: int
    detected_sample: int


VadEvent = VadSpeechStarted | VadSpeechStopped


DEFAULT_MIN_SPEECH_MS = 200
"""How long loud audio must last before the embedded server's VAD reports speech: like the
hosted service's, which reports speech about 200 ms after it starts. The one default of the
server's VAD, its input buffer and :attr:`~realtalk.server.ServerOptions.vad_min_speech_ms`."""


class ServerVad:
    """Energy VAD over 20 ms frames; see the module docstring for the rules.

    Args:
        threshold: 0..1, mapped to a dBFS level by :func:`threshold_to_dbfs`.
        prefix_padding_ms: audio kept before the onset in the committed item.
        silence_duration_ms: quiet time that ends a turn.
        min_speech_ms: loud time that starts one.
        sample_rate: of the PCM16 input.
        origin_sample: where the first fed sample sits in the session's input audio (for a
            detector created mid-session); added to every reported offset.

    Raises:
        ValueError: a threshold outside [0, 1] or a negative duration.
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        min_speech_ms: int = DEFAULT_MIN_SPEECH_MS,
        sample_rate: int = PCM_SAMPLE_RATE,
        origin_sample: int = 0,
    ) -> None:
        for name, value in (("prefix_padding_ms", prefix_padding_ms),
                            ("silence_duration_ms", silence_duration_ms),
                            ("min_speech_ms", min_speech_ms)):
            if value < 0:
                raise ValueError(f"{name}={value!r} must be >= 0 ms")
        self.level_dbfs = threshold_to_dbfs(threshold)
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.min_speech_ms = min_speech_ms
        self.sample_rate = sample_rate
        self._frame = sample_rate * FRAME_MS // 1000
        self._origin = origin_sample
        self._pending: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._frames_done = 0  # whole frames analysed; the pending tail comes after them
        self._in_speech = False
        self._run_start: int | None = None  # first frame of the current loud run
        self._last_loud_end = 0  # frame index just past the last loud frame

    @property
    def in_speech(self) -> bool:
        """Whether a turn is open (started, not yet stopped)."""
        return self._in_speech

    @property
    def samples_seen(self) -> int:
        """Samples fed so far, including a pending partial frame."""
        return self._origin + self._frames_done * self._frame + len(self._pending)

    def reset(self) -> None:
        """Forget any open turn (the buffer was cleared or committed); offsets keep counting."""
        self._in_speech = False
        self._run_start = None

    def feed(self, samples: npt.NDArray[np.int16]) -> list[VadEvent]:
        """Analyse more input audio; return the turn events it completes, in order."""
        data = np.concatenate((self._pending, np.asarray(samples, dtype=np.int16)))
        whole = len(data) // self._frame
        self._pending = data[whole * self._frame :]
        if whole == 0:
            return []
        frames = data[: whole * self._frame].reshape(whole, self._frame).astype(np.float64)
        rms = np.sqrt(np.mean(frames**2, axis=1)) / 32768.0
        loud = 20.0 * np.log10(np.maximum(rms, 1e-10)) >= self.level_dbfs
        events: list[VadEvent] = []
        first = self._frames_done
        self._frames_done += whole
        # One step per 20 ms frame: the per-frame decisions are already vectorised above.
        for offset, is_loud in enumerate(loud.tolist()):
            event = self._step(first + offset, is_loud)
            if event is not None:
                events.append(event)
        return events

    def _step(self, index: int, is_loud: bool) -> VadEvent | None:
        min_frames = max(1, -(-self.min_speech_ms // FRAME_MS))
        silence_frames = max(1, -(-self.silence_duration_ms // FRAME_MS))
        if is_loud:
            self._last_loud_end = index + 1
            if self._run_start is None:
                self._run_start = index
            if not self._in_speech and index + 1 - self._run_start >= min_frames:
                self._in_speech = True
                onset = self._origin + self._run_start * self._frame
                padding = self.prefix_padding_ms * self.sample_rate // 1000
                return VadSpeechStarted(
                    audio_start_ms=self._to_ms(onset),
                    detected_sample=self._origin + (index + 1) * self._frame,
                    keep_from_sample=max(0, onset - padding),
                )
            return None
        self._run_start = None
        if self._in_speech and index + 1 - self._last_loud_end >= silence_frames:
            self._in_speech = False
            return VadSpeechStopped(
                audio_end_ms=self._to_ms(self._origin + self._last_loud_end * self._frame),
                detected_sample=self._origin + (index + 1) * self._frame,
            )
        return None

    def _to_ms(self, sample: int) -> int:
        return sample * 1000 // self.sample_rate
