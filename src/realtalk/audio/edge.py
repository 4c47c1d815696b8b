"""The microphone edge: whatever a microphone gives becomes mono PCM16 at one rate, here.

A live microphone may capture stereo at 48 kHz; the conversation processes and sends mono at
the protocol's 24 kHz. The frame's echo reference (what the speaker was sent) is converted
with it, by a resampler of its own, so that the two stay aligned sample for sample.
"""

from __future__ import annotations

from .frame import AudioFrame
from .resample import StreamingResampler

__all__ = ("MicrophoneEdge",)


class MicrophoneEdge:
    """Converts captured frames to mono at ``sample_rate``, streaming (stateful across frames).

    A change of the capture rate mid-stream starts new resamplers; a frame whose reference
    appears mid-stream (so that its resampled length differs) loses that reference rather
    than carrying a misaligned one.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._samples: StreamingResampler | None = None
        self._reference: StreamingResampler | None = None

    def convert(self, captured: AudioFrame) -> AudioFrame | None:
        """The frame as the conversation uses it; ``None`` while the resampler is still
        filling (it holds back a few samples at the start)."""
        frame = captured.mono()
        if frame.sample_rate == self.sample_rate:
            return frame
        if self._samples is None or self._samples.src_rate != frame.sample_rate:
            self._samples = StreamingResampler(frame.sample_rate, self.sample_rate)
            self._reference = StreamingResampler(frame.sample_rate, self.sample_rate)
        samples = self._samples.process(frame.samples)
        reference = None
        if frame.reference is not None and self._reference is not None:
            # Fed with every frame, like the samples' resampler, so that the two stay aligned.
            reference = self._reference.process(frame.reference)
            if len(reference) != len(samples):
                reference = None
        if not len(samples):
            return None
        return AudioFrame(samples, self.sample_rate, frame.timestamp, reference=reference)
