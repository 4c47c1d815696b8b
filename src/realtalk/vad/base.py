"""The VoiceActivityDetector protocol."""

from __future__ import annotations

from typing import Protocol

from ..audio.frame import AudioFrame

__all__ = ("VoiceActivityDetector",)


class VoiceActivityDetector(Protocol):
    """Decides, frame by frame, whether a frame holds speech. Streaming and stateful.

    ``latency_frames`` is how many frames late a decision may be relative to the audio it
    describes (0 for a detector that decides on the frame itself).
    """

    latency_frames: int

    def is_speech(self, frame: AudioFrame) -> bool:
        """Whether ``frame`` holds speech."""
        ...

    def reset(self) -> None:
        """Forget all state."""
        ...
