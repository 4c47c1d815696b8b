"""WAV files: reading every PCM width and layout, clear errors, file microphone and speaker."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import anyio
import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio.frame import AudioFrame
from realtalk.audio.wav import WavInput, WavOutput, read_wav, write_wav
from realtalk.errors import AudioError


class Clock:
    """A hand-moved clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _riff(data: bytes, *, tag: int = 1, channels: int = 1, rate: int = 24_000, bits: int = 16,
          extensible: bool = False) -> bytes:
    """A RIFF WAVE image built by hand, so each header field can be chosen."""
    width = (bits + 7) // 8
    block = width * channels
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22,
                          bits, 0) + struct.pack("<H", tag) + guid_tail
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd chunk, padded: must be skipped
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _ramp(n: int) -> npt.NDArray[np.int16]:
    return (np.arange(n, dtype=np.int32) * 37 % 60_000 - 30_000).astype(np.int16)


def test_write_then_read_round_trips_exactly(tmp_path: Path) -> None:
    """PCM16 mono written by write_wav reads back sample for sample, rate included."""
    samples = _ramp(1000)
    write_wav(tmp_path / "a.wav", samples, 16_000)
    back, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16_000
    np.testing.assert_array_equal(back, samples)


def test_stereo_is_downmixed_to_the_mean(tmp_path: Path) -> None:
    """Two channels become their rounded average."""
    left = np.array([1000, -2000, 3], dtype=np.int16)
    right = np.array([3000, 2000, 4], dtype=np.int16)
    data = np.stack([left, right], axis=1).astype("<i2").tobytes()
    (tmp_path / "s.wav").write_bytes(_riff(data, channels=2))
    back, _ = read_wav(tmp_path / "s.wav")
    np.testing.assert_array_equal(back, [2000, 0, 4])


@pytest.mark.parametrize(
    ("bits", "encode"),
    [
        (8, lambda x: ((x >> 8) + 128).astype(np.uint8).tobytes()),
        (24, lambda x: b"".join(int(v << 8).to_bytes(3, "little", signed=True) for v in x)),
        (32, lambda x: (x.astype(np.int32) << 16).astype("<i4").tobytes()),
    ],
    ids=["8bit", "24bit", "32bit"],
)
def test_other_pcm_widths_convert_to_int16(
        tmp_path: Path, bits: int, encode: Callable[[npt.NDArray[np.int32]], bytes]) -> None:
    """8-, 24- and 32-bit PCM become the same int16 values (8-bit to its precision)."""
    x = np.array([-32768, -256, 0, 256, 32512], dtype=np.int16)
    (tmp_path / "w.wav").write_bytes(_riff(encode(x.astype(np.int32)), bits=bits))
    back, _ = read_wav(tmp_path / "w.wav")
    np.testing.assert_array_equal(back, x)


def test_float_and_extensible_formats_are_read(tmp_path: Path) -> None:
    """IEEE float and WAVE_FORMAT_EXTENSIBLE PCM are accepted."""
    f = np.array([0.5, -0.25, 1.5], dtype="<f4")  # out of range is clipped, not wrapped
    (tmp_path / "f.wav").write_bytes(_riff(f.tobytes(), tag=3, bits=32))
    np.testing.assert_array_equal(read_wav(tmp_path / "f.wav")[0], [16384, -8192, 32767])
    x = _ramp(50)
    (tmp_path / "e.wav").write_bytes(_riff(x.astype("<i2").tobytes(), extensible=True))
    np.testing.assert_array_equal(read_wav(tmp_path / "e.wav")[0], x)


def test_errors_name_the_path_and_the_problem(tmp_path: Path) -> None:
    """Missing file, not a WAV, compressed audio and zero channels are clear AudioErrors."""
    with pytest.raises(AudioError, match=r"nope\.wav.*does not exist"):
        read_wav(tmp_path / "nope.wav")
    (tmp_path / "t.wav").write_bytes(b"hello, this is text")
    with pytest.raises(AudioError, match=r"t\.wav.*not a WAV file"):
        read_wav(tmp_path / "t.wav")
    (tmp_path / "alaw.wav").write_bytes(_riff(b"\x00" * 10, tag=6, bits=8))
    with pytest.raises(AudioError, match=r"alaw\.wav.*compressed.*A-law"):
        read_wav(tmp_path / "alaw.wav")
    (tmp_path / "mp3.wav").write_bytes(_riff(b"\x00" * 10, tag=0x55, extensible=True))
    with pytest.raises(AudioError, match="MPEG layer 3"):
        read_wav(tmp_path / "mp3.wav")
    zero = _riff(b"\x00" * 4).replace(struct.pack("<HH", 1, 1), struct.pack("<HH", 1, 0), 1)
    (tmp_path / "z.wav").write_bytes(zero)
    with pytest.raises(AudioError, match=r"z\.wav.*zero channels"):
        WavInput(tmp_path / "z.wav")


def test_write_wav_rejects_float() -> None:
    """write_wav takes int16 only."""
    with pytest.raises(AudioError, match="int16"):
        write_wav("unused.wav", np.zeros(3, dtype=np.float32), 24_000)


async def _collect(mic: WavInput, limit: int = 1000) -> list[AudioFrame]:
    frames = []
    async for frame in mic.frames():
        frames.append(frame)
        if len(frames) == limit:
            mic.close()
    return frames


@pytest.mark.anyio
async def test_input_yields_frames_at_the_files_rate(tmp_path: Path) -> None:
    """Frames carry the file's rate (no silent resampling); the last one is short."""
    samples = _ramp(16_000 * 50 // 1000)  # 50 ms at 16 kHz
    write_wav(tmp_path / "in.wav", samples, 16_000)
    clock = Clock()
    clock.now = 10.0
    mic = WavInput(tmp_path / "in.wav", frame_ms=20, clock=clock)
    frames = await _collect(mic)
    assert [len(f.samples) for f in frames] == [320, 320, 160]
    assert {f.sample_rate for f in frames} == {16_000}
    assert [f.timestamp for f in frames] == [10.0, 10.02, 10.04]
    np.testing.assert_array_equal(np.concatenate([f.samples for f in frames]), samples)


@pytest.mark.anyio
async def test_realtime_input_does_not_wait_when_the_clock_is_ahead(tmp_path: Path) -> None:
    """Real-time pacing only sleeps for frames not yet due; late frames come at once."""
    write_wav(tmp_path / "rt.wav", _ramp(960), 24_000)
    reads = iter(range(100))

    def clock() -> float:  # a second passes between reads: every frame is overdue
        return float(next(reads))

    mic = WavInput(tmp_path / "rt.wav", frame_ms=20, clock=clock, realtime=True)
    frames = []
    with anyio.fail_after(5):
        async for frame in mic.frames():
            frames.append(frame)
    assert [f.timestamp for f in frames] == [0.0, 0.02]


@pytest.mark.anyio
async def test_looping_input_wraps_seamlessly(tmp_path: Path) -> None:
    """With loop=True the file repeats with no gap at the seam."""
    samples = _ramp(700)
    write_wav(tmp_path / "loop.wav", samples, 24_000)
    mic = WavInput(tmp_path / "loop.wav", frame_ms=20, clock=Clock(), loop=True)
    frames = await _collect(mic, limit=4)
    got = np.concatenate([f.samples for f in frames])
    np.testing.assert_array_equal(got, np.tile(samples, 3)[:4 * 480])


def test_output_saves_exactly_what_was_played(tmp_path: Path) -> None:
    """WavOutput plays like MemoryOutput; the file holds the played part only."""
    clock = Clock()
    path = tmp_path / "out.wav"
    with WavOutput(path, 24_000, clock=clock) as out:
        samples = _ramp(24_000)
        out.write(samples)
        clock.now = 0.1234
        assert out.clear() == 2961
        out.write(_ramp(100))
        clock.now = 1.0
        assert out.played_samples() == 3061
    back, rate = read_wav(path)
    assert rate == 24_000
    np.testing.assert_array_equal(back, np.concatenate([samples[:2961], _ramp(100)]))
    with pytest.raises(AudioError, match="closed"):
        out.write(_ramp(10))
