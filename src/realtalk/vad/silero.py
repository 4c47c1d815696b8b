"""Adapter for the Silero VAD neural network, run with onnxruntime and numpy (no torch).

Silero's model is a small recurrent network published as ONNX inside the ``silero-vad`` wheel
(``silero_vad/data/silero_vad.onnx``). That wheel declares a hard dependency on torch, which
the ONNX file does not need, so install it without dependencies next to onnxruntime::

    pip install onnxruntime
    pip install --no-deps silero-vad

or pass ``model_path=`` to a copy of the file. The model's streaming interface at 16 kHz:
each call takes 512 new samples preceded by the previous call's last 64 samples (``input``,
float32, shape ``(1, 576)``), the recurrent ``state`` (float32, ``(2, 1, 128)``) and the rate
``sr`` (int64 scalar); it returns the speech probability of those 512 samples (32 ms) and the
next state.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..audio.frame import AudioFrame
from ..audio.resample import StreamingResampler
from ..errors import AudioError, ConfigurationError
from .base import WindowedDetector

__all__ = ("SileroVAD", "default_model_path")

_MODEL_RATE = 16_000
_WINDOW = 512  # new samples per model call at 16 kHz (32 ms)
_CONTEXT = 64  # samples of the previous call prepended to each window
_STATE_SHAPE = (2, 1, 128)
_FULL_SCALE = 32768.0


def default_model_path() -> Path | None:
    """Where the ``silero-vad`` wheel put ``silero_vad.onnx``, or ``None`` if it is not
    installed.

    The package is located without importing it: importing ``silero_vad`` imports torch.
    """
    try:
        spec = importlib.util.find_spec("silero_vad")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / "data" / "silero_vad.onnx"
        if candidate.is_file():
            return candidate
    return None


def _load_onnxruntime() -> Any:
    """The ``onnxruntime`` module, imported on first use so that it stays optional."""
    try:
        return importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise ConfigurationError(
            "SileroVAD needs onnxruntime: pip install 'realtalk[vad]' (or pip install "
            "onnxruntime), plus the model: pip install --no-deps silero-vad"
        ) from exc


class SileroVAD(WindowedDetector):
    """Silero's neural voice activity detector behind the
    :class:`~realtalk.vad.VoiceActivityDetector` protocol.

    Frames of any size at ``sample_rate`` are resampled to 16 kHz and cut into the model's
    32 ms windows; each window gets a probability. A call's answer covers the windows it
    completes.

    Latency: :attr:`latency_frames` is 0 in the protocol's sense, but a window is only scored
    once all its 512 samples are in, so the decision trails the audio by up to 32 ms, plus the
    resampler's filter delay (about 1.5 ms at 24->16 kHz). Silero is also slower to rise at an
    onset than energy-based detectors (its recurrent state needs a window or two).

    Args:
        model_path: the ONNX file; default the one in the installed ``silero-vad`` wheel.
        sample_rate: rate of the frames given, in Hz.
        threshold: probability at or above which :meth:`is_speech` says speech.
        threads: onnxruntime threads; 1 keeps the cost predictable next to audio I/O.

    Raises:
        ConfigurationError: onnxruntime is missing, the model file cannot be found or loaded,
            or the model does not have Silero's ``input``/``state``/``sr`` inputs.
    """

    latency_frames = 0

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        sample_rate: int = 24_000,
        threshold: float = 0.5,
        threads: int = 1,
    ) -> None:
        if not (isinstance(sample_rate, int) and sample_rate > 0):
            raise ConfigurationError(f"sample_rate must be a positive int, got {sample_rate!r}")
        if not 0.0 < threshold < 1.0:
            raise ConfigurationError(f"threshold must be in (0, 1), got {threshold!r}")
        ort = _load_onnxruntime()
        path = Path(model_path) if model_path is not None else default_model_path()
        if path is None or not path.is_file():
            where = str(path) if path is not None else "the silero-vad package"
            raise ConfigurationError(
                f"no Silero ONNX model at {where}: pip install --no-deps silero-vad, "
                "or pass model_path= to silero_vad.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own, undocumented exception types
            raise ConfigurationError(f"could not load the ONNX model {path}: {exc}") from exc
        names = {i.name for i in self._session.get_inputs()}
        if not {"input", "state", "sr"} <= names:
            raise ConfigurationError(
                f"{path} is not a Silero VAD model: inputs {sorted(names)}, "
                "expected input, state and sr")
        self.model_path = path
        self.sample_rate = sample_rate
        self.threshold = threshold
        self._resampler = StreamingResampler(sample_rate, _MODEL_RATE)
        self._sr = np.array(_MODEL_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the recurrent state, the context, buffered samples."""
        self._resampler.reset()
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._last = 0.0

    def probabilities(self, frame: AudioFrame) -> list[float]:
        """One speech probability per 32 ms model window that ``frame`` completes (possibly
        none), oldest first.

        Raises:
            AudioError: ``frame`` is not at :attr:`sample_rate`.
        """
        if frame.sample_rate != self.sample_rate:
            raise AudioError(
                f"SileroVAD expects {self.sample_rate} Hz frames, got {frame.sample_rate} Hz")
        samples = frame.mono().samples.astype(np.float32) / np.float32(_FULL_SCALE)
        data = np.concatenate((self._pending, self._resampler.process(samples)))
        count = len(data) // _WINDOW
        self._pending = data[count * _WINDOW :]
        out: list[float] = []
        for k in range(count):
            window = data[k * _WINDOW : (k + 1) * _WINDOW]
            out.append(self._run(window))
        if out:
            self._last = out[-1]
        return out

    def _run(self, window: npt.NDArray[np.float32]) -> float:
        model_input = np.concatenate((self._context, window))[None, :]
        prob, state = self._session.run(
            None, {"input": model_input, "state": self._state, "sr": self._sr})
        self._state = np.asarray(state, dtype=np.float32)
        self._context = window[-_CONTEXT:].copy()
        return float(np.asarray(prob).reshape(-1)[0])

