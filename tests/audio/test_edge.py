"""The microphone edge: any capture format in, mono at the conversation's rate out."""

from __future__ import annotations

import numpy as np

from realtalk.audio import AudioFrame
from realtalk.audio.edge import MicrophoneEdge
from realtalk.audio.resample import StreamingResampler


def _tone(n: int, rate: int, hz: float = 440.0) -> np.ndarray:
    t = np.arange(n) / rate
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16)


def test_a_frame_at_the_target_rate_passes_unchanged() -> None:
    edge = MicrophoneEdge(24_000)
    frame = AudioFrame(_tone(480, 24_000), 24_000, 1.0, reference=_tone(480, 24_000, 300))
    out = edge.convert(frame)
    assert out is not None
    assert np.array_equal(out.samples, frame.samples)
    assert out.reference is not None and frame.reference is not None
    assert np.array_equal(out.reference, frame.reference)
    assert out.timestamp == 1.0


def test_stereo_48k_becomes_mono_24k_exactly_as_one_resampler_would() -> None:
    """Frame by frame, the edge gives what resampling the downmixed stream at once gives."""
    rate = 48_000
    left = _tone(rate, rate)
    stereo = np.stack([left, left], axis=1)
    edge = MicrophoneEdge(24_000)
    parts = []
    for k in range(0, rate, 960):
        out = edge.convert(AudioFrame(stereo[k:k + 960], rate, k / rate))
        if out is not None:
            assert out.sample_rate == 24_000 and out.samples.ndim == 1
            parts.append(out.samples)
    expected = StreamingResampler(rate, 24_000).process(left)
    assert np.array_equal(np.concatenate(parts), expected)


def test_the_reference_is_resampled_alongside_and_stays_aligned() -> None:
    rate = 16_000
    edge = MicrophoneEdge(24_000)
    mic, speaker = _tone(rate, rate, 500), _tone(rate, rate, 700)
    for k in range(0, rate, 320):
        out = edge.convert(AudioFrame(mic[k:k + 320], rate, k / rate,
                                      reference=speaker[k:k + 320]))
        assert out is not None
        assert out.reference is not None
        assert len(out.reference) == len(out.samples)


def test_a_reference_that_appears_mid_stream_is_dropped_not_misaligned() -> None:
    rate = 16_000
    edge = MicrophoneEdge(24_000)
    mic = _tone(3200, rate)
    first = edge.convert(AudioFrame(mic[:320], rate, 0.0))
    assert first is not None and first.reference is None
    later = edge.convert(AudioFrame(mic[320:640], rate, 0.02, reference=mic[320:640]))
    assert later is not None and later.reference is None


def test_a_new_capture_rate_starts_new_resamplers() -> None:
    edge = MicrophoneEdge(24_000)
    assert edge.convert(AudioFrame(_tone(320, 16_000), 16_000, 0.0)) is not None
    out = edge.convert(AudioFrame(_tone(960, 48_000), 48_000, 0.02))
    assert out is not None and out.sample_rate == 24_000
