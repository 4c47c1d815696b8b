"""Adapter for the WebRTC voice activity detector (the ``webrtcvad`` module).

WebRTC's VAD is a small Gaussian-mixture model in C, shipped on PyPI as ``webrtcvad-wheels``
(install ``realtalk[vad]``). It only takes PCM16 at 8, 16, 32 or 48 kHz in frames of exactly
10, 20 or 30 ms, so :class:`WebRtcVAD` resamples realtalk's 24 kHz stream to 16 kHz with the
shared :class:`~realtalk.audio.resample.StreamingResampler` and cuts it into such frames,
whatever size the caller's frames are.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import numpy.typing as npt

from ..audio.frame import AudioFrame
from ..audio.resample import StreamingResampler
from ..errors import AudioError, ConfigurationError

__all__ = ("WebRtcVAD",)

_NATIVE_RATES = (8_000, 16_000, 32_000, 48_000)
_INSTALL_HINT = (
    "WebRtcVAD needs the webrtcvad module: pip install 'realtalk[vad]' "
    "(or pip install webrtcvad-wheels)"
)


def _load_webrtcvad() -> Any:
    """The ``webrtcvad`` module, imported on first use so that it stays optional."""
    try:
        return importlib.import_module("webrtcvad")
    except ImportError as exc:
        raise ConfigurationError(_INSTALL_HINT) from exc


class WebRtcVAD:
    """WebRTC's GMM voice activity detector behind the
    :class:`~realtalk.vad.VoiceActivityDetector` protocol.

    Frames of any size at ``sample_rate`` go in; they are resampled (to 16 kHz unless
    ``sample_rate`` is already one the VAD takes natively) and cut into ``frame_ms`` frames for
    the VAD. A call's answer covers the VAD frames it completes.

    Latency: :attr:`latency_frames` is 0 in the protocol's sense (the answer is about the frame
    just given), but the decision trails the audio by the resampler's filter delay (about
    1.5 ms at 24->16 kHz) plus up to one ``frame_ms`` VAD frame that is still being filled: the
    part of a frame that does not complete a VAD frame is decided with the next call. WebRTC's
    VAD also has its own built-in hangover of a few frames at the end of speech.

    Args:
        mode: aggressiveness 0-3; higher says "not speech" more often (fewer false alarms,
            more missed speech).
        sample_rate: rate of the frames given, in Hz.
        frame_ms: length of the VAD's own frames: 10, 20 or 30 ms.

    Raises:
        ConfigurationError: ``mode``, ``sample_rate`` or ``frame_ms`` is out of range, or the
            ``webrtcvad`` module is not installed (the message names the extra).
    """

    latency_frames = 0

    def __init__(self, mode: int = 2, *, sample_rate: int = 24_000, frame_ms: int = 20) -> None:
        if mode not in (0, 1, 2, 3):
            raise ConfigurationError(f"mode must be 0, 1, 2 or 3, got {mode!r}")
        if frame_ms not in (10, 20, 30):
            raise ConfigurationError(f"frame_ms must be 10, 20 or 30, got {frame_ms!r}")
        if not (isinstance(sample_rate, int) and sample_rate > 0):
            raise ConfigurationError(f"sample_rate must be a positive int, got {sample_rate!r}")
        webrtcvad = _load_webrtcvad()
        self.mode = mode
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.vad_rate = sample_rate if sample_rate in _NATIVE_RATES else 16_000
        self._vad = webrtcvad.Vad(mode)
        self._resampler = StreamingResampler(sample_rate, self.vad_rate)
        self._chunk = self.vad_rate * frame_ms // 1000
        self._pending = np.zeros(0, dtype=np.int16)
        self._last = False

    def reset(self) -> None:
        """Forget the stream: the resampler, buffered samples and the VAD's own state."""
        self._vad = _load_webrtcvad().Vad(self.mode)
        self._resampler.reset()
        self._pending = np.zeros(0, dtype=np.int16)
        self._last = False

    def decisions(self, frame: AudioFrame) -> list[bool]:
        """One decision per VAD frame that ``frame`` completes (possibly none), oldest first.

        Raises:
            AudioError: ``frame`` is not at :attr:`sample_rate`.
        """
        if frame.sample_rate != self.sample_rate:
            raise AudioError(
                f"WebRtcVAD expects {self.sample_rate} Hz frames, got {frame.sample_rate} Hz")
        resampled: npt.NDArray[np.int16] = self._resampler.process(frame.mono().samples)
        data = np.concatenate((self._pending, resampled))
        count = len(data) // self._chunk
        self._pending = data[count * self._chunk :]
        # webrtcvad reads native-endian int16 bytes; realtalk's PCM is little-endian, and so
        # is every platform webrtcvad-wheels ships for.
        raw = data[: count * self._chunk].astype("<i2").tobytes()
        step = 2 * self._chunk
        out = [bool(self._vad.is_speech(raw[i : i + step], self.vad_rate))
               for i in range(0, len(raw), step)]
        if out:
            self._last = out[-1]
        return out

    def is_speech(self, frame: AudioFrame) -> bool:
        """Whether any VAD frame completed by ``frame`` is speech (the previous answer when
        ``frame`` completes none).

        Raises:
            AudioError: ``frame`` is not at :attr:`sample_rate`.
        """
        out = self.decisions(frame)
        return any(out) if out else self._last

    def probability(self, frame: AudioFrame) -> float:
        """:meth:`is_speech` as 1.0 or 0.0 (WebRTC's VAD gives no graded score).

        Raises:
            AudioError: ``frame`` is not at :attr:`sample_rate`.
        """
        return 1.0 if self.is_speech(frame) else 0.0
