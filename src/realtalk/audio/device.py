"""Microphone and speaker through PortAudio (the ``sounddevice`` package, extra ``audio``).

:class:`SoundDevice` opens one full-duplex ``sounddevice.Stream`` whose callback feeds a
:class:`DuplexEngine`. The engine is everything that is not PortAudio: the playback queue and
jitter buffer, the count of samples that have *left the speaker*, the capture queue bridged to
async code, and the statistics. It can be driven by hand (tests, simulations, other audio
back ends) by calling :meth:`DuplexEngine.callback` with the arguments PortAudio would pass.

Timing. Every callback carries the device's own clock: ``currentTime`` (now),
``outputBufferDacTime`` (when the first sample of this output block reaches the DAC) and
``inputBufferAdcTime`` (when the first sample of this input block hit the ADC). The engine maps
both onto its monotonic clock at the moment of the callback, so a sample counts as played only
once its DAC time has passed: output latency included, not "handed to the driver". When a host
API reports no DAC/ADC times (zero), the stream's reported latency is used instead.

Jitter buffer. Network audio arrives in bursts; starting playback on the first delta risks an
underrun (a gap) on the next late delta. :class:`DeviceOutput` starts a response only once
``jitter_buffer_ms`` is queued, or once :meth:`DeviceOutput.mark_end` says the response is
complete. After an underrun it waits to refill the same amount. :func:`measure_jitter_buffer`
puts numbers on the trade-off (added start latency versus underruns).

sounddevice is imported only when a device is opened or listed; without it, an
:class:`~realtalk.errors.AudioError` says to ``pip install 'realtalk[audio]'``, and when it is
installed but the PortAudio library is missing, how to install that
(``apt-get install libportaudio2``, ``brew install portaudio``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import threading
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from types import ModuleType, TracebackType
from typing import Any, Protocol

import anyio
import attrs
import numpy as np
import numpy.typing as npt

from .._args import (
    bad_argument,
    check_choice,
    check_clock,
    check_methods,
    check_number,
    check_sample_rate,
    check_type,
)
from ..errors import AudioError
from .frame import AudioFrame
from .gain import GainRamp
from .pcm import mono_int16

__all__ = (
    "SoundDevice",
    "DuplexEngine",
    "DeviceInput",
    "DeviceOutput",
    "DeviceStats",
    "DeviceInfo",
    "list_devices",
    "format_devices",
    "JitterReport",
    "measure_jitter_buffer",
)

logger = logging.getLogger("realtalk.audio.device")

Clock = Callable[[], float]

_INSTALL_HINT = "the sounddevice back end needs the 'audio' extra: pip install 'realtalk[audio]'"
_PORTAUDIO_HINT = ("sounddevice is installed but cannot load the PortAudio system library "
                   "({}): install it with `apt-get install libportaudio2` (Debian, Ubuntu) or "
                   "`brew install portaudio` (macOS)")
# A frame's DAC time is trusted within this much of "now"; beyond it the host API is lying.
_MAX_DEVICE_LATENCY_S = 2.0


def _import_sounddevice() -> ModuleType:
    """The sounddevice module, or an AudioError that says what to install: the Python
    package (the extra) when it is absent, the PortAudio library when sounddevice is there
    but cannot load it."""
    try:
        import sounddevice
    except ModuleNotFoundError as exc:
        if exc.name == "sounddevice":
            raise AudioError(_INSTALL_HINT) from exc
        # On macOS and Windows sounddevice falls back to the PortAudio its wheel bundles.
        if exc.name == "_sounddevice_data":
            raise AudioError(_PORTAUDIO_HINT.format(exc)) from exc
        raise AudioError(f"sounddevice could not be imported ({exc}); reinstall it: "
                         "pip install --force-reinstall 'realtalk[audio]'") from exc
    except OSError as exc:  # sounddevice raises "PortAudio library not found" on import
        raise AudioError(_PORTAUDIO_HINT.format(exc)) from exc
    module: ModuleType = sounddevice
    return module


class CallbackTime(Protocol):
    """What PortAudio passes as ``time``: the device clock at this callback, in seconds."""

    @property
    def currentTime(self) -> float: ...  # PortAudio's names
    @property
    def inputBufferAdcTime(self) -> float: ...
    @property
    def outputBufferDacTime(self) -> float: ...


@attrs.frozen
class DeviceStats:
    """Counters of a duplex stream; a snapshot, never reset.

    Attributes:
        callbacks: device callbacks served.
        underruns: times playback ran out of queued audio mid-response (a gap was heard).
        rebuffer_starts: times playback started (first start and after each underrun).
        output_underflows: blocks the driver reported it had to fill with silence.
        output_overflows: output overflows reported by the driver.
        input_overflows: input blocks the driver reported as lost (the app was too slow).
        input_underflows: input underflows reported by the driver.
        input_dropped: captured blocks dropped because nobody read :meth:`DeviceInput.frames`.
        callback_errors: callbacks that raised (output was silenced; the stream went on).
        clears: calls to :meth:`DeviceOutput.clear`.
        last_clear_tail_ms: audio already inside the driver at the last clear, in ms: how long
            after ``clear()`` the speaker still played.
    """

    callbacks: int = 0
    underruns: int = 0
    rebuffer_starts: int = 0
    output_underflows: int = 0
    output_overflows: int = 0
    input_overflows: int = 0
    input_underflows: int = 0
    input_dropped: int = 0
    callback_errors: int = 0
    clears: int = 0
    last_clear_tail_ms: float = 0.0


class DeviceOutput:
    """The speaker side of a duplex stream: an :class:`~realtalk.audio.AudioOutput`.

    :meth:`write` only appends to a lock-protected queue; the device callback pulls whole
    blocks from it (:meth:`render`). :meth:`played_samples` counts samples whose DAC time has
    passed on ``clock``.

    Args:
        sample_rate: samples per second.
        jitter_buffer_ms: audio to queue before playback starts (see :meth:`mark_end`).
        clock: seconds, monotonic, callable from any thread; default :func:`time.monotonic`.
    """

    def __init__(self, sample_rate: int = 24_000, *, jitter_buffer_ms: float = 200.0,
                 clock: Clock | None = None) -> None:
        check_sample_rate(sample_rate)
        check_number("jitter_buffer_ms", jitter_buffer_ms, minimum=0.0)
        check_clock(clock)
        self.sample_rate = sample_rate
        self.jitter_buffer_ms = jitter_buffer_ms
        self._jitter_samples = math.ceil(jitter_buffer_ms * sample_rate / 1000)
        self._clock: Clock = clock if clock is not None else time.monotonic
        self._lock = threading.Lock()
        self._queue: collections.deque[npt.NDArray[np.int16]] = collections.deque()
        self._queue_offset = 0
        self._queued = 0  # written, not yet handed to the driver
        self._handed = 0  # handed to the driver, cumulative
        self._in_flight: collections.deque[tuple[float, int]] = collections.deque()  # (dac, n)
        self._settled = 0  # played samples of blocks no longer in _in_flight
        self._playing = False
        self._ended = False
        self._starved = False  # ran dry mid-response; an underrun if more audio follows
        self.underruns = 0
        self.rebuffer_starts = 0
        self.clears = 0
        self.last_clear_tail_ms = 0.0
        self._gain = GainRamp(sample_rate)

    # -- app side -------------------------------------------------------------------------

    def write(self, samples: npt.NDArray[np.int16]) -> None:
        """Queue ``samples`` after everything already queued; never blocks on the device."""
        arr = mono_int16(samples)
        if not len(arr):
            return
        arr = arr.copy()  # the caller may reuse its buffer; the callback reads this later
        with self._lock:
            if self._starved:  # the response went on after running dry: that was a gap
                self._starved = False
                self.underruns += 1
            self._queue.append(arr)
            self._queued += len(arr)

    def mark_end(self) -> None:
        """Say that everything queued so far is the whole response.

        Playback then starts without waiting for the jitter buffer to fill, and running dry
        at the end is not an underrun. The mark lasts until the queue drains or :meth:`clear`.
        Call it when the response's audio is complete (``response.output_audio.done``).
        """
        with self._lock:
            # ran dry exactly at the end: not an underrun; nothing queued: nothing to end
            self._starved = False
            self._ended = self._queued > 0
            if not self._queued:  # all of it is in the driver already: the response is over
                self._playing = False

    def clear(self) -> int:
        """Drop everything queued; the next device block is silent.

        Returns the exact number of samples that will have left the speaker once it falls
        silent: samples already handed to the driver cannot be recalled, so they are counted
        (they play out within the output latency plus one block;
        ``stats.last_clear_tail_ms`` says how long). :meth:`played_samples` reaches this
        value then, and stays there until new audio is written.
        """
        with self._lock:
            now = self._clock()
            self._queue.clear()
            self._queue_offset = 0
            self._queued = 0
            self._playing = False
            self._ended = False
            self._starved = False
            self._gain.reset()
            self.clears += 1
            if self._in_flight:
                dac, n = self._in_flight[-1]
                self.last_clear_tail_ms = max(0.0, (dac + n / self.sample_rate - now) * 1000)
            else:
                self.last_clear_tail_ms = 0.0
            return self._handed

    def set_gain(self, gain: float, ramp_ms: float = 10.0) -> None:
        """Scale blocks rendered from now on by ``gain``, ramped over ``ramp_ms``. Audio
        already in the driver keeps its gain (it is at most a block and the output latency)."""
        with self._lock:
            self._gain.set(gain, ramp_ms)

    def played_samples(self) -> int:
        """Cumulative samples that have left the speaker, by the device's clock."""
        with self._lock:
            return self._played_locked(self._clock())

    def buffered_samples(self) -> int:
        """Samples written and not played yet: queued here plus inside the driver."""
        with self._lock:
            return self._queued + self._handed - self._played_locked(self._clock())

    def handed_samples(self) -> int:
        """Cumulative samples handed to the driver (played or about to be)."""
        with self._lock:
            return self._handed

    @property
    def playing(self) -> bool:
        """Whether the jitter buffer is open and queued audio is flowing to the device."""
        return self._playing

    def _played_locked(self, now: float) -> int:
        partial = 0
        while self._in_flight:
            dac, n = self._in_flight[0]
            # 1e-6 sample of slack absorbs float rounding of the timestamps
            done = math.floor((now - dac) * self.sample_rate + 1e-6)
            if done < n:
                partial = max(done, 0)
                # later blocks start no earlier than this one ends
                break
            self._settled += n
            self._in_flight.popleft()
        return self._settled + partial

    # -- device side ------------------------------------------------------------------------

    def render(self, out: npt.NDArray[np.int16], dac_time: float) -> None:
        """Fill ``out`` (one device block) from the queue, silence where there is none.

        ``dac_time`` is when ``out[0]`` will reach the DAC, on this output's clock. Called by
        the device callback; takes the lock only to move samples.
        """
        n = len(out)
        with self._lock:
            if not self._playing and self._queued and (
                    self._queued >= self._jitter_samples or self._ended):
                self._playing = True
                self.rebuffer_starts += 1
            k = self._pop_locked(out, n) if self._playing else 0
            if k:
                out[:k] = self._gain.apply(out[:k])
            out[k:] = 0
            if k:
                self._in_flight.append((dac_time, k))
                self._handed += k
            if self._playing and k < n:  # ran dry during this block
                self._playing = False
                # the response played to its end, or starved (counted if more audio comes)
                self._starved = not self._ended
                self._ended = False

    def _pop_locked(self, out: npt.NDArray[np.int16], n: int) -> int:
        filled = 0
        while filled < n and self._queue:
            head = self._queue[0]
            take = min(n - filled, len(head) - self._queue_offset)
            out[filled:filled + take] = head[self._queue_offset:self._queue_offset + take]
            filled += take
            self._queue_offset += take
            if self._queue_offset == len(head):
                self._queue.popleft()
                self._queue_offset = 0
        self._queued -= filled
        return filled


_Waker = Callable[[Callable[[], None]], None]


def _current_waker() -> _Waker:
    """A thread-safe, non-blocking "run this soon on the current event loop"."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon

    def wake(fn: Callable[[], None]) -> None:
        loop.call_soon_threadsafe(fn)

    return wake


class DeviceInput:
    """The microphone side of a duplex stream: an :class:`~realtalk.audio.AudioInput`.

    The device thread calls :meth:`capture`; :meth:`frames` yields the blocks in order on the
    event loop (asyncio or trio), woken without the device thread ever waiting for the loop.
    When the reader falls more than ``max_queued_ms`` behind, the oldest blocks are dropped
    and counted.

    Args:
        sample_rate: samples per second.
        max_queued_ms: capture backlog kept for a slow reader.
        clock: the clock of the timestamps given to :meth:`capture` (default
            :func:`time.monotonic`); :meth:`frames` maps them onto ``anyio.current_time()``.
        on_start: called (in a worker thread) when :meth:`frames` starts, e.g. to open the
            stream.
    """

    def __init__(self, sample_rate: int = 24_000, *, max_queued_ms: float = 2000.0,
                 clock: Clock | None = None,
                 on_start: Callable[[], None] | None = None) -> None:
        check_sample_rate(sample_rate)
        check_number("max_queued_ms", max_queued_ms, positive=True)
        check_clock(clock)
        check_methods("on_start", on_start, ("__call__",), "a callable or None", optional=True)
        self.sample_rate = sample_rate
        self._max_queued = max(1, math.ceil(max_queued_ms * sample_rate / 1000))
        self._on_start = on_start
        self._clock: Clock = clock if clock is not None else time.monotonic
        self._lock = threading.Lock()
        self._pending: collections.deque[
            tuple[npt.NDArray[np.int16], float, npt.NDArray[np.int16] | None]] = (
            collections.deque())
        self._pending_samples = 0
        self._waker: _Waker | None = None
        self._event: anyio.Event | None = None
        self._closed = False
        self.dropped = 0

    def capture(self, samples: npt.NDArray[np.int16], timestamp: float,
                reference: npt.NDArray[np.int16] | None = None) -> None:
        """Hand over one captured block (copied), its ADC time and, when known, what the
        speaker was sent in the same callback (the echo reference); from any thread."""
        block = np.array(samples, dtype=np.int16, copy=True)
        ref = None if reference is None else np.array(reference, dtype=np.int16, copy=True)
        with self._lock:
            self._pending.append((block, timestamp, ref))
            self._pending_samples += len(block)
            while self._pending_samples > self._max_queued and len(self._pending) > 1:
                old, _, _ = self._pending.popleft()
                self._pending_samples -= len(old)
                self.dropped += 1
            waker = self._waker
        self._wake(waker)

    def close(self) -> None:
        """End :meth:`frames` once the queued blocks are read; from any thread."""
        with self._lock:
            self._closed = True
            waker = self._waker
        self._wake(waker)

    def _wake(self, waker: _Waker | None) -> None:
        if waker is None:
            return
        try:
            waker(self._set_event)
        except Exception:  # the loop is gone: nobody is waiting any more
            logger.debug("event loop closed; capture wake-up dropped")

    def _set_event(self) -> None:  # runs on the event loop
        if self._event is not None:
            self._event.set()

    async def frames(self) -> AsyncGenerator[AudioFrame, None]:
        """Yield captured frames in order until :meth:`close`.

        Timestamps are on the caller's clock, ``anyio.current_time()``.
        """
        if self._on_start is not None:
            await anyio.to_thread.run_sync(self._on_start)
        offset = anyio.current_time() - self._clock()
        waker = _current_waker()
        with self._lock:
            self._waker = waker  # the latest reader wins; one reader at a time is expected
        try:
            while True:
                with self._lock:
                    item = self._pending.popleft() if self._pending else None
                    if item is not None:
                        self._pending_samples -= len(item[0])
                    elif self._closed:
                        return
                    else:
                        # created before the lock is released, so a capture after this
                        # point wakes exactly this event
                        self._event = anyio.Event()
                        event = self._event
                if item is None:
                    await event.wait()
                    continue
                block, stamp, ref = item
                yield AudioFrame(block, self.sample_rate, stamp + offset, reference=ref)
        finally:
            with self._lock:
                if self._waker is waker:  # an abandoned older reader must not unhook a newer one
                    self._waker = None
                    self._event = None


class DuplexEngine:
    """The PortAudio-free heart of :class:`SoundDevice`: its callback and both endpoints.

    Args:
        sample_rate: samples per second, input and output.
        jitter_buffer_ms: see :class:`DeviceOutput`.
        clock: seconds, monotonic, callable from any thread (default :func:`time.monotonic`);
            device times are mapped onto it at each callback; input frames are restamped onto
            ``anyio.current_time()`` by :meth:`DeviceInput.frames`.
        on_start: passed to :class:`DeviceInput`.
    """

    def __init__(self, sample_rate: int = 24_000, *, jitter_buffer_ms: float = 200.0,
                 clock: Clock | None = None, on_start: Callable[[], None] | None = None) -> None:
        self.sample_rate = sample_rate
        self._clock: Clock = clock if clock is not None else time.monotonic
        self.output = DeviceOutput(sample_rate, jitter_buffer_ms=jitter_buffer_ms,
                                   clock=self._clock)
        self.input = DeviceInput(sample_rate, clock=self._clock, on_start=on_start)
        self.input_latency = 0.0  # reported by the stream; used when the callback has no times
        self.output_latency = 0.0
        self._counts = collections.Counter[str]()
        self._mono: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)

    @property
    def stats(self) -> DeviceStats:
        """A snapshot of the counters."""
        c = self._counts
        return DeviceStats(
            callbacks=c["callbacks"], underruns=self.output.underruns,
            rebuffer_starts=self.output.rebuffer_starts,
            output_underflows=c["output_underflow"], output_overflows=c["output_overflow"],
            input_overflows=c["input_overflow"], input_underflows=c["input_underflow"],
            input_dropped=self.input.dropped, callback_errors=c["errors"],
            clears=self.output.clears, last_clear_tail_ms=self.output.last_clear_tail_ms)

    def callback(self, indata: npt.NDArray[np.int16] | None,
                 outdata: npt.NDArray[np.int16] | None, frames: int, time: CallbackTime,
                 status: object) -> None:
        """The stream callback, with PortAudio's arguments; never raises.

        ``indata``/``outdata`` are ``(frames, channels)`` int16 arrays (``None`` for a
        half-open stream); channel 0 is captured, the mono output goes to every channel.
        ``status`` has PortAudio's flags as boolean attributes (``sounddevice.CallbackFlags``).
        """
        now = self._clock()
        counts = self._counts
        counts["callbacks"] += 1
        for flag in ("input_underflow", "input_overflow", "output_underflow", "output_overflow"):
            if getattr(status, flag, False):
                counts[flag] += 1
        try:
            current = float(time.currentTime)
            reference = None
            # Render first: the block sent to the speaker now is the echo reference of the
            # block captured now. Its echo reaches the microphone later (output + input
            # latency + the room), which the echo canceller's delay estimator absorbs.
            if outdata is not None:
                dac = float(time.outputBufferDacTime)
                lead = dac - current if dac > 0 and current > 0 else math.nan
                if not 0 <= lead < _MAX_DEVICE_LATENCY_S:
                    lead = self.output_latency
                if len(self._mono) != frames:
                    self._mono = np.zeros(frames, dtype=np.int16)
                self.output.render(self._mono, now + lead)
                outdata[:] = self._mono[:, None]
                reference = self._mono
            if indata is not None:
                adc = float(time.inputBufferAdcTime)
                lag = current - adc if adc > 0 and current > 0 else math.nan
                if not 0 <= lag < _MAX_DEVICE_LATENCY_S:
                    lag = self.input_latency + frames / self.sample_rate
                self.input.capture(indata[:, 0], now - lag, reference)
        except Exception:
            counts["errors"] += 1
            logger.exception("audio callback failed; output silenced for this block")
            if outdata is not None:
                outdata.fill(0)


@attrs.frozen
class DeviceInfo:
    """One PortAudio device, as listed by :func:`list_devices`."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float
    is_default_input: bool
    is_default_output: bool


def list_devices() -> list[DeviceInfo]:
    """The audio devices PortAudio sees, with the default input and output marked.

    Raises:
        AudioError: sounddevice is not installed or PortAudio cannot be loaded.
    """
    sd = _import_sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as exc:
        raise AudioError(f"cannot list audio devices: {exc}") from exc
    infos = []
    for index, dev in enumerate(devices):
        infos.append(DeviceInfo(
            index=index, name=str(dev["name"]),
            hostapi=str(hostapis[dev["hostapi"]]["name"]),
            max_input_channels=int(dev["max_input_channels"]),
            max_output_channels=int(dev["max_output_channels"]),
            default_sample_rate=float(dev["default_samplerate"]),
            is_default_input=index == default_in, is_default_output=index == default_out))
    return infos


def format_devices(devices: Sequence[DeviceInfo] | None = None) -> str:
    """A text table of ``devices`` (default: :func:`list_devices`) for ``realtalk devices``.

    ``>`` marks the default input, ``<`` the default output.
    """
    if devices is None:
        devices = list_devices()
    if not devices:
        return "no audio devices found"
    rows = [("", "idx", "name", "host api", "in", "out", "rate")]
    for d in devices:
        mark = (">" if d.is_default_input else " ") + ("<" if d.is_default_output else " ")
        rows.append((mark, str(d.index), d.name, d.hostapi, str(d.max_input_channels),
                     str(d.max_output_channels), f"{d.default_sample_rate:g}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {1, 4, 5, 6}
    lines = ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    return "\n".join(lines)


class SoundDevice:
    """Microphone and speaker on one full-duplex PortAudio stream.

    ``.input`` is an :class:`~realtalk.audio.AudioInput`, ``.output`` an
    :class:`~realtalk.audio.AudioOutput` (plus :meth:`DeviceOutput.mark_end`). The stream
    opens on :meth:`start`, on entering ``with``/``async with``, or when ``input.frames()`` is
    first iterated; :meth:`close` ends it. Audio written before it opens waits in the queue.

    Args:
        input_device: PortAudio device index or (part of a) name; ``None``: the default.
        output_device: same, for the speaker.
        sample_rate: samples per second, both directions (mono int16).
        block_ms: device block length; also the capture frame length and how soon
            ``clear()`` silences the output.
        jitter_buffer_ms: audio queued before a response starts playing (see module doc).
        latency: PortAudio's suggested latency: ``"low"``, ``"high"`` or seconds.
        clock: see :class:`DuplexEngine`.

    Raises:
        ConfigurationError: a bad setting, named in the message.
        AudioError: the sounddevice package (the ``audio`` extra) or the PortAudio library
            is missing; the message says which to install, and how.
    """

    def __init__(self, *, input_device: int | str | None = None,
                 output_device: int | str | None = None, sample_rate: int = 24_000,
                 block_ms: float = 20, jitter_buffer_ms: float = 200,
                 latency: str | float = "low", clock: Clock | None = None) -> None:
        for name, device in (("input_device", input_device), ("output_device", output_device)):
            check_type(name, device, (int, str, type(None)),
                       "a PortAudio device index (int), (part of) a name, or None")
        check_sample_rate(sample_rate)
        check_number("block_ms", block_ms, positive=True)
        self.block_size = round(sample_rate * block_ms / 1000)
        if self.block_size <= 0:
            raise bad_argument("block_ms", f"at least one sample at {sample_rate} Hz "
                               f"(>= {1000 / sample_rate:.3g} ms)", block_ms)
        if isinstance(latency, str):
            check_choice("latency", latency, ("low", "high"))
        else:
            check_number("latency", latency, positive=True)
        self.sample_rate = sample_rate
        self.input_device = input_device
        self.output_device = output_device
        self.latency_setting = latency
        self.engine = DuplexEngine(sample_rate, jitter_buffer_ms=jitter_buffer_ms, clock=clock,
                                   on_start=self.start)
        # After every check: bad settings are reported even where PortAudio is missing.
        self._sd = _import_sounddevice()
        self.input = self.engine.input
        self.output = self.engine.output
        self._stream: Any = None
        self._closed = False
        self._start_lock = threading.Lock()

    @property
    def stats(self) -> DeviceStats:
        """Underruns, overflows and other counters so far."""
        return self.engine.stats

    @property
    def latency(self) -> tuple[float, float]:
        """(input, output) latency the open stream reports, in seconds; zeros when closed."""
        return self.engine.input_latency, self.engine.output_latency

    @property
    def active(self) -> bool:
        """Whether the stream is open and running."""
        return self._stream is not None

    def start(self) -> None:
        """Open and start the stream; does nothing if it is already running.

        Raises:
            AudioError: PortAudio refused (no such device, unsupported rate, ...), or the
                device was closed.
        """
        with self._start_lock:
            if self._closed:
                raise AudioError("this SoundDevice is closed; create a new one")
            if self._stream is not None:
                return
            sd = self._sd
            try:
                stream = sd.Stream(
                    samplerate=self.sample_rate, blocksize=self.block_size,
                    device=(self.input_device, self.output_device), channels=(1, 1),
                    dtype="int16", latency=self.latency_setting, callback=self.engine.callback)
            except (sd.PortAudioError, ValueError) as exc:
                raise AudioError(
                    f"cannot open audio stream (input {self.input_device!r}, output "
                    f"{self.output_device!r}, {self.sample_rate} Hz): {exc}") from exc
            in_lat, out_lat = stream.latency
            self.engine.input_latency = float(in_lat)
            self.engine.output_latency = float(out_lat)
            try:
                stream.start()
            except sd.PortAudioError as exc:
                stream.close()
                raise AudioError(f"cannot start audio stream: {exc}") from exc
            self._stream = stream

    def close(self) -> None:
        """Stop and close the stream and end ``input.frames()``, for good; safe to call twice."""
        with self._start_lock:
            stream, self._stream = self._stream, None
            self._closed = True
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except self._sd.PortAudioError as exc:
                logger.warning("closing the audio stream failed: %s", exc)
        self.input.close()

    def __enter__(self) -> SoundDevice:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> SoundDevice:
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await anyio.to_thread.run_sync(self.close)


@attrs.frozen
class JitterReport:
    """The effect of one jitter-buffer size on one simulated network.

    Attributes:
        jitter_buffer_ms: the setting.
        start_latency_ms: from the first audio's arrival to its first sample at the DAC.
        underruns: gaps during the response.
        stall_ms: total silence inserted by those gaps.
        total_latency_ms: start latency plus stalls: how much later the last sample played
            than if the network had been perfect.
    """

    jitter_buffer_ms: float
    start_latency_ms: float
    underruns: int
    stall_ms: float
    total_latency_ms: float


def measure_jitter_buffer(jitter_buffer_ms: float, *, seed: int = 0, duration_s: float = 10.0,
                          chunk_ms: float = 40.0, block_ms: float = 20.0,
                          mean_delay_ms: float = 30.0, jitter_ms: float = 40.0,
                          spike_probability: float = 0.02, spike_ms: float = 250.0,
                          speed: float = 1.0, sample_rate: int = 24_000) -> JitterReport:
    """Play one simulated streamed response through a :class:`DeviceOutput` on a virtual
    clock and report added latency and underruns, deterministically for a given ``seed``.

    The model: a server producing audio at ``speed`` times real time sends ``chunk_ms``
    chunks as they are made; each arrives
    after ``mean_delay_ms`` plus exponential jitter of mean ``jitter_ms``, and with probability
    ``spike_probability`` an extra ``spike_ms`` stall (a retransmit, a slow model step);
    arrivals keep their order. The device pulls ``block_ms`` blocks on time.
    """
    rng = np.random.default_rng(seed)
    chunk = round(sample_rate * chunk_ms / 1000)
    block = round(sample_rate * block_ms / 1000)
    n_chunks = math.ceil(duration_s * 1000 / chunk_ms)
    if speed <= 0:
        raise AudioError(f"speed must be positive, got {speed}")
    sent = np.arange(n_chunks) * chunk / sample_rate / speed
    delay = (mean_delay_ms + rng.exponential(jitter_ms, n_chunks)
             + np.where(rng.random(n_chunks) < spike_probability, spike_ms, 0.0)) / 1000
    arrive = np.maximum.accumulate(sent + delay)  # TCP delivers in order
    clock_now = [0.0]
    out = DeviceOutput(sample_rate, jitter_buffer_ms=jitter_buffer_ms,
                       clock=lambda: clock_now[0])
    buf = np.zeros(block, dtype=np.int16)
    ones = np.ones(chunk, dtype=np.int16)
    total = n_chunks * chunk
    next_chunk = 0
    first_sound: float | None = None
    blocks_since_start = 0
    t = 0.0
    step = block / sample_rate
    while out.handed_samples() < total:
        while next_chunk < n_chunks and arrive[next_chunk] <= t:
            out.write(ones)
            next_chunk += 1
            if next_chunk == n_chunks:
                out.mark_end()
        clock_now[0] = t
        before = out.handed_samples()
        out.render(buf, t)
        if first_sound is None and out.handed_samples() > before:
            first_sound = t
        if first_sound is not None:
            blocks_since_start += 1
        t += step
    assert first_sound is not None
    played_span = blocks_since_start * step
    stall = max(0.0, played_span - total / sample_rate)
    start_latency = first_sound - float(arrive[0])
    return JitterReport(jitter_buffer_ms=jitter_buffer_ms,
                        start_latency_ms=round(start_latency * 1000, 3),
                        underruns=out.underruns, stall_ms=round(stall * 1000, 3),
                        total_latency_ms=round((start_latency + stall) * 1000, 3))
