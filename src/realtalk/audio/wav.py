"""WAV files as audio I/O: a microphone that reads a file and a speaker that records one.

Reading accepts RIFF WAVE files holding integer PCM (8, 16, 24 or 32 bit) or IEEE float
(32 or 64 bit), plain or ``WAVE_FORMAT_EXTENSIBLE``, with any number of channels; the samples
become int16 mono (channels averaged). The file's sample rate is kept as it is: realtalk never
resamples behind your back, so frames carry the file's rate and the conversation decides.
Compressed formats (ADPCM, A-law, MP3, ...) are refused with an :class:`~realtalk.errors.AudioError`
naming the file and the format.

Writing uses the stdlib :mod:`wave` module and always produces PCM16 mono.
"""

from __future__ import annotations

import os
import struct
import wave
from collections.abc import AsyncIterator
from types import TracebackType

import anyio
import anyio.lowlevel
import numpy as np
import numpy.typing as npt

from .._args import check_clock, check_flag, check_number, check_path
from ..errors import AudioError
from .frame import AudioFrame
from .memory import Clock, MemoryOutput

__all__ = ("WavInput", "WavOutput", "read_wav", "write_wav")

StrPath = str | os.PathLike[str]

_PCM = 0x0001
_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0055: "MPEG layer 3",
    0x0092: "Dolby AC-3",
}


def _format_name(tag: int) -> str:
    name = _FORMAT_NAMES.get(tag)
    return f"{name} (format tag 0x{tag:04x})" if name else f"format tag 0x{tag:04x}"


def _parse(path: StrPath, data: bytes) -> tuple[npt.NDArray[np.int16], int]:
    """Decode a whole RIFF WAVE image to int16 mono and its sample rate."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        kind = "a big-endian RIFX file" if data[:4] == b"RIFX" else "no RIFF/WAVE header"
        raise AudioError(f"{os.fspath(path)!r} is not a WAV file ({kind})")
    fmt: bytes | None = None
    payload: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos:pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8:pos + 8 + size]
        if chunk_id == b"fmt " and fmt is None:
            fmt = body
        elif chunk_id == b"data" and payload is None:
            payload = body  # a truncated file keeps what is there
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    if fmt is None or len(fmt) < 16:
        raise AudioError(f"{os.fspath(path)!r} has no valid 'fmt ' chunk")
    if payload is None:
        raise AudioError(f"{os.fspath(path)!r} has no 'data' chunk")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _EXTENSIBLE:
        if len(fmt) < 40:
            raise AudioError(f"{os.fspath(path)!r}: WAVE_FORMAT_EXTENSIBLE header is truncated")
        (tag,) = struct.unpack_from("<H", fmt, 24)  # first two bytes of the sub-format GUID
    if tag not in (_PCM, _FLOAT):
        raise AudioError(f"{os.fspath(path)!r} uses a compressed or unsupported encoding, "
                         f"{_format_name(tag)}; expected PCM or IEEE float")
    if channels == 0:
        raise AudioError(f"{os.fspath(path)!r} declares zero channels")
    if rate == 0:
        raise AudioError(f"{os.fspath(path)!r} declares a sample rate of 0")
    width = block_align // channels if block_align else (bits + 7) // 8
    if width * channels != block_align:
        raise AudioError(f"{os.fspath(path)!r}: block align {block_align} does not fit "
                         f"{channels} channels of {bits} bits")
    n_frames = len(payload) // block_align
    raw = np.frombuffer(payload, dtype=np.uint8, count=n_frames * block_align)
    return _to_int16_mono(path, raw, tag, width, channels), rate


def _to_int16_mono(path: StrPath, raw: npt.NDArray[np.uint8], tag: int, width: int,
                   channels: int) -> npt.NDArray[np.int16]:
    """Interleaved sample bytes to int16 mono: scale to [-1, 1), average channels, round."""
    if tag == _FLOAT and width in (4, 8):
        scaled = raw.view("<f4" if width == 4 else "<f8").astype(np.float64)
        if not np.all(np.isfinite(scaled)):
            raise AudioError(f"{os.fspath(path)!r} contains NaN or infinite samples")
    elif tag == _PCM and width == 1:
        scaled = (raw.astype(np.float64) - 128.0) / 128.0  # 8-bit WAV is unsigned
    elif tag == _PCM and width == 2:
        if channels == 1:
            return raw.view("<i2").astype(np.int16)  # the common case, exact and cheap
        scaled = raw.view("<i2").astype(np.float64) / 32768.0
    elif tag == _PCM and width == 3:
        triplets = raw.reshape(-1, 3).astype(np.int32)
        value = triplets[:, 0] | (triplets[:, 1] << 8) | (triplets[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        scaled = value.astype(np.float64) / float(1 << 23)
    elif tag == _PCM and width == 4:
        scaled = raw.view("<i4").astype(np.float64) / float(1 << 31)
    else:
        kind = "float" if tag == _FLOAT else "PCM"
        raise AudioError(f"{os.fspath(path)!r}: {width * 8}-bit {kind} samples are not "
                         f"supported; expected PCM 8/16/24/32-bit or float 32/64-bit")
    mono = scaled.reshape(-1, channels).mean(axis=1)
    out: npt.NDArray[np.int16] = np.clip(np.rint(mono * 32768.0), -32768, 32767).astype(np.int16)
    return out


def read_wav(path: StrPath) -> tuple[npt.NDArray[np.int16], int]:
    """Read a WAV file as int16 mono samples and the file's sample rate.

    Raises:
        AudioError: the file is missing or unreadable, not a WAV file, compressed, or declares
            zero channels; the message names the path.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as exc:
        raise AudioError(f"WAV file {os.fspath(path)!r} does not exist") from exc
    except OSError as exc:
        raise AudioError(f"cannot read WAV file {os.fspath(path)!r}: {exc.strerror}") from exc
    return _parse(path, data)


def write_wav(path: StrPath, samples: npt.NDArray[np.int16], rate: int) -> None:
    """Write int16 mono ``samples`` to ``path`` as a PCM16 WAV file at ``rate``.

    Raises:
        AudioError: samples are not 1-D int16, the rate is not positive, or the file cannot
            be written.
    """
    arr = np.asarray(samples)
    if arr.dtype != np.int16 or arr.ndim != 1:
        raise AudioError(f"write_wav expects 1-D int16 samples, got {arr.dtype} {arr.shape}")
    if rate <= 0:
        raise AudioError(f"sample rate must be positive, got {rate}")
    try:
        with wave.open(os.fspath(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(arr.astype("<i2").tobytes())
    except OSError as exc:
        raise AudioError(f"cannot write WAV file {os.fspath(path)!r}: {exc.strerror}") from exc


class WavInput:
    """A microphone that plays a WAV file into the conversation, ``frame_ms`` at a time.

    The whole file is read (and checked) when the object is created. Frames are int16 mono at
    the file's own rate (:attr:`sample_rate`); the last frame may be shorter unless ``loop``.

    Args:
        path: the WAV file.
        frame_ms: frame length in milliseconds.
        realtime: pace frames at the clock's rate, as a microphone would (``False``: as fast
            as consumed; timestamps still advance by one frame each).
        clock: seconds, monotonic; default ``anyio.current_time``.
        loop: start again from the beginning at the end of the file, seamlessly, forever
            (an empty file yields nothing).

    Raises:
        AudioError: see :func:`read_wav`.
        ConfigurationError: a bad argument (a non-positive ``frame_ms``, ...), named.
    """

    def __init__(self, path: StrPath, *, frame_ms: int = 20, realtime: bool = False,
                 clock: Clock | None = None, loop: bool = False) -> None:
        check_path(path)
        check_number("frame_ms", frame_ms, integer=True, positive=True)
        check_flag("realtime", realtime)
        check_clock(clock)
        check_flag("loop", loop)
        self.path = path
        self.samples, self.sample_rate = read_wav(path)
        self.frame_samples = max(1, self.sample_rate * frame_ms // 1000)
        self._clock = clock
        self._realtime = realtime
        self._loop = loop
        self._closed = False

    def close(self) -> None:
        """End the frame stream before the next frame."""
        self._closed = True

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """Yield the file's audio frame by frame, each stamped with its capture time."""
        clock = self._clock if self._clock is not None else anyio.current_time
        total = len(self.samples)
        start = clock()
        position = 0
        index = 0
        while not self._closed and total and (self._loop or position < total):
            if self._loop:
                block = np.take(self.samples, np.arange(position, position + self.frame_samples),
                                mode="wrap")
                position = (position + self.frame_samples) % total
            else:
                block = self.samples[position:position + self.frame_samples]
                position += len(block)
            captured_at = start + index * self.frame_samples / self.sample_rate
            if self._realtime:
                delay = captured_at + len(block) / self.sample_rate - clock()
                if delay > 0:
                    await anyio.sleep(delay)
            else:
                await anyio.lowlevel.checkpoint()
            index += 1
            yield AudioFrame(block, self.sample_rate, captured_at)


class WavOutput(MemoryOutput):
    """A speaker that plays against a clock, exactly like :class:`MemoryOutput`, and saves
    what was actually played to a PCM16 mono WAV file on :meth:`close`.

    Audio cleared before it played is not in the file; neither is audio still queued at
    :meth:`close`. Use it as a context manager to close it for sure.

    Args:
        path: the WAV file to write.
        sample_rate: samples per second.
        clock: seconds, monotonic; default ``anyio.current_time`` (needs a running loop).
    """

    def __init__(self, path: StrPath, sample_rate: int = 24_000, *,
                 clock: Clock | None = None) -> None:
        check_path(path)
        super().__init__(sample_rate, clock=clock)
        self.path = path
        self.closed = False

    def write(self, samples: npt.NDArray[np.int16]) -> None:
        """Queue ``samples`` (see :meth:`MemoryOutput.write`); refused after :meth:`close`."""
        if self.closed:
            raise AudioError(f"WavOutput for {os.fspath(self.path)!r} is closed")
        super().write(samples)

    def close(self) -> None:
        """Write what has been played so far to the file; later calls do nothing."""
        if self.closed:
            return
        self.closed = True
        write_wav(self.path, self.recording(), self.sample_rate)

    def __enter__(self) -> WavOutput:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
