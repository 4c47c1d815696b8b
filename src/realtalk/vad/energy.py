"""A simple energy detector: frame RMS against a fixed level and an adaptive noise floor."""

from __future__ import annotations

from ..audio.frame import AudioFrame
from ..audio.pcm import mean_square, power_dbfs

__all__ = ("EnergyVAD",)


class EnergyVAD:
    """Speech when the frame's RMS is above ``threshold_dbfs`` *and* ``margin_db`` above the
    tracked noise floor.

    The floor follows quiet frames quickly and loud frames slowly, so steady background noise
    raises the bar while speech does not drag it up.

    Args:
        threshold_dbfs: absolute level a frame must exceed (dB relative to full scale).
        margin_db: how far above the noise floor a frame must be.
    """

    latency_frames = 0

    def __init__(self, threshold_dbfs: float = -40.0, margin_db: float = 10.0) -> None:
        self.threshold_dbfs = threshold_dbfs
        self.margin_db = margin_db
        self._floor_db = -90.0

    @staticmethod
    def level_dbfs(frame: AudioFrame) -> float:
        """RMS level of ``frame`` in dBFS (-120 for digital silence)."""
        # Over every sample of every channel.
        return power_dbfs(mean_square(frame.samples.reshape(-1)))

    def is_speech(self, frame: AudioFrame) -> bool:
        """Whether ``frame`` is loud enough, absolutely and above the noise floor."""
        level = self.level_dbfs(frame)
        speech = level > self.threshold_dbfs and level > self._floor_db + self.margin_db
        # The floor falls fast and rises slowly. Speech keeps dipping between syllables, which
        # pulls the floor back down; steady noise never dips, so within seconds it becomes the
        # floor and stops counting as speech.
        rate = 0.2 if level < self._floor_db else (0.01 if speech else 0.05)
        self._floor_db += rate * (level - self._floor_db)
        return speech

    def reset(self) -> None:
        """Forget the noise floor."""
        self._floor_db = -90.0
