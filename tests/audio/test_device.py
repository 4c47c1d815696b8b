"""The sounddevice back end: its callback driven by hand, and a real PortAudio stream on ALSA."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import anyio
import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio.device import (
    DeviceInfo,
    DuplexEngine,
    SoundDevice,
    format_devices,
    list_devices,
    measure_jitter_buffer,
)
from realtalk.errors import AudioError

RATE = 24_000
BLOCK = 480  # 20 ms


class Clock:
    """A hand-moved clock, readable from any thread."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeTime:
    """What PortAudio passes as the callback's ``time``."""

    def __init__(self, current: float, *, dac_lead: float = 0.0, adc_lag: float = 0.0) -> None:
        self.currentTime = current
        self.outputBufferDacTime = current + dac_lead if dac_lead >= 0 else 0.0
        self.inputBufferAdcTime = current - adc_lag if adc_lag >= 0 else 0.0


class FakeStatus:
    """PortAudio's status flags as attributes."""

    def __init__(self, **flags: bool) -> None:
        self.input_underflow = flags.get("input_underflow", False)
        self.input_overflow = flags.get("input_overflow", False)
        self.output_underflow = flags.get("output_underflow", False)
        self.output_overflow = flags.get("output_overflow", False)


class Rig:
    """An engine plus a fake device: each tick is one callback at the clock's time."""

    def __init__(self, *, jitter_buffer_ms: float = 0.0, dac_lead: float = 0.0) -> None:
        self.clock = Clock(100.0)
        self.engine = DuplexEngine(RATE, jitter_buffer_ms=jitter_buffer_ms, clock=self.clock)
        self.out = self.engine.output
        self.dac_lead = dac_lead
        self.device_time = 5000.0  # the device clock has its own origin
        self.heard: list[npt.NDArray[np.int16]] = []

    def tick(self, status: FakeStatus | None = None) -> npt.NDArray[np.int16]:
        """Run one device block, then let its duration pass on both clocks."""
        indata = np.zeros((BLOCK, 1), dtype=np.int16)
        outdata = np.full((BLOCK, 1), 99, dtype=np.int16)
        self.engine.callback(indata, outdata, BLOCK,
                             FakeTime(self.device_time, dac_lead=self.dac_lead),
                             status or FakeStatus())
        self.heard.append(outdata[:, 0].copy())
        self.clock.now += BLOCK / RATE
        self.device_time += BLOCK / RATE
        return outdata[:, 0]


def _ramp(n: int) -> npt.NDArray[np.int16]:
    return (np.arange(n) % 30_000 + 1).astype(np.int16)


def test_played_counts_only_what_left_the_speaker() -> None:
    """With 50 ms of output latency a handed block counts only once its DAC time passes."""
    rig = Rig(dac_lead=0.05)
    rig.out.write(_ramp(10 * BLOCK))
    rig.tick()  # block 0 reaches the DAC at 100.05
    rig.tick()
    assert rig.out.handed_samples() == 2 * BLOCK
    assert rig.out.played_samples() == 0  # now 100.04: nothing audible yet
    rig.clock.now = 100.05 + 0.0101
    assert rig.out.played_samples() == 242  # floor(0.0101 * 24000)
    rig.clock.now = 100.05 + 0.03
    assert rig.out.played_samples() == 720
    assert rig.out.buffered_samples() == 10 * BLOCK - 720


def test_missing_dac_time_falls_back_to_reported_latency() -> None:
    """A host API without DAC times is accounted with the stream's reported output latency."""
    rig = Rig(dac_lead=-1)  # FakeTime then reports outputBufferDacTime == 0
    rig.engine.output_latency = 0.1
    rig.out.write(_ramp(BLOCK))
    rig.tick()
    rig.clock.now = 100.0 + 0.1 + 0.01
    assert rig.out.played_samples() == 240


def test_clear_silences_the_next_block_and_returns_the_exact_count() -> None:
    """clear() returns what will have been heard; the very next block is silence."""
    rig = Rig(dac_lead=0.04)
    rig.out.write(_ramp(24_000))
    for _ in range(3):
        rig.tick()
    played_now = rig.out.played_samples()
    count = rig.out.clear()
    assert count == 3 * BLOCK  # handed to the driver: it will all leave the speaker
    assert played_now < count
    assert rig.engine.stats.last_clear_tail_ms == pytest.approx(40.0)  # 40 ms lead
    assert not rig.tick().any()  # within one device block
    rig.clock.now += 1.0
    assert rig.out.played_samples() == count
    assert rig.out.buffered_samples() == 0
    heard = np.concatenate(rig.heard)
    np.testing.assert_array_equal(heard[:count], _ramp(24_000)[:count])
    assert not heard[count:].any()


def test_after_clear_new_audio_follows_what_was_played() -> None:
    """Audio written after clear() plays next and adds to the same count."""
    rig = Rig()
    rig.out.write(_ramp(5 * BLOCK))
    rig.tick()
    assert rig.out.clear() == BLOCK
    rig.out.write(np.full(BLOCK, 7, dtype=np.int16))
    out = rig.tick()
    assert (out == 7).all()
    rig.clock.now += 1
    assert rig.out.played_samples() == 2 * BLOCK


def test_underrun_is_counted_when_the_response_goes_on_after_a_gap() -> None:
    """Running dry mid-response and then receiving more audio is one underrun; a partial
    block is padded with silence and only real samples count as played."""
    rig = Rig()
    rig.out.write(_ramp(BLOCK + 100))
    rig.tick()
    out = rig.tick()
    assert out[:100].all() and not out[100:].any()
    rig.tick()  # starved
    rig.out.write(_ramp(BLOCK))
    rig.tick()
    assert rig.engine.stats.underruns == 1
    rig.clock.now += 1
    assert rig.out.played_samples() == 2 * BLOCK + 100


def test_running_dry_at_the_end_is_not_an_underrun() -> None:
    """mark_end() before or after the last sample plays means no underrun."""
    rig = Rig()
    rig.out.write(_ramp(BLOCK))
    rig.out.mark_end()
    rig.tick()
    rig.tick()
    rig.out.write(_ramp(BLOCK))
    rig.tick()
    rig.tick()
    rig.out.mark_end()  # done arrived after playback drained
    rig.out.write(_ramp(BLOCK))
    assert rig.engine.stats.underruns == 0


def test_jitter_buffer_delays_start_until_filled_or_ended() -> None:
    """Playback waits for jitter_buffer_ms of audio, or for mark_end()."""
    rig = Rig(jitter_buffer_ms=100)  # 2400 samples = 5 blocks
    rig.out.write(_ramp(4 * BLOCK))
    assert not rig.tick().any()
    assert not rig.out.playing
    rig.out.write(_ramp(BLOCK))
    assert rig.tick().all()
    assert rig.engine.stats.rebuffer_starts == 1
    rig.out.clear()
    rig.out.write(_ramp(BLOCK))
    assert not rig.tick().any()
    rig.out.mark_end()  # a short response: play it now
    assert rig.tick().all()


def test_status_flags_are_counted_and_errors_never_escape() -> None:
    """Driver under/overflows land in stats; a failing callback silences and goes on."""
    rig = Rig()
    rig.tick(FakeStatus(output_underflow=True, input_overflow=True))
    rig.tick(FakeStatus(input_overflow=True))

    class Broken:
        @property
        def currentTime(self) -> float:  # PortAudio's name
            raise RuntimeError("boom")

    outdata = np.full((BLOCK, 1), 5, dtype=np.int16)
    rig.engine.callback(None, outdata, BLOCK, Broken(), FakeStatus())  # type: ignore[arg-type]
    assert not outdata.any()
    stats = rig.engine.stats
    assert (stats.callbacks, stats.output_underflows, stats.input_overflows,
            stats.callback_errors) == (3, 1, 2, 1)


def test_write_never_aliases_the_callers_buffer() -> None:
    """write() copies: reusing the caller's array later does not change what plays."""
    rig = Rig()
    buf = np.full(BLOCK, 3, dtype=np.int16)
    rig.out.write(buf)
    buf[:] = 0
    assert (rig.tick() == 3).all()


@pytest.mark.anyio
async def test_input_frames_cross_from_the_device_thread_in_order() -> None:
    """Blocks captured on another thread arrive in order, stamped at their ADC time."""
    clock = Clock(100.0)
    engine = DuplexEngine(RATE, clock=clock)
    n_blocks = 30

    def device_thread() -> None:
        for i in range(n_blocks):
            indata = np.full((BLOCK, 1), i, dtype=np.int16)
            engine.callback(indata, None, BLOCK, FakeTime(7.0, adc_lag=0.03), FakeStatus())
        engine.input.close()

    seen = []
    thread = threading.Thread(target=device_thread)
    start_offset = anyio.current_time() - clock()
    with anyio.fail_after(5):
        thread.start()
        async for frame in engine.input.frames():
            seen.append(frame)
    thread.join()
    assert [int(f.samples[0]) for f in seen] == list(range(n_blocks))
    # captured 30 ms before the callback ran at engine time 100.0, restamped on the loop clock
    assert seen[0].timestamp == pytest.approx(100.0 - 0.03 + start_offset, abs=0.05)


@pytest.mark.anyio
async def test_each_captured_frame_carries_what_the_speaker_was_sent_as_reference() -> None:
    """A duplex callback renders first; the block sent to the speaker is the captured
    frame's echo reference, so the echo canceller sees exactly what was played. A
    capture-only stream has no reference."""
    rig = Rig()
    rig.out.write(_ramp(3 * BLOCK))
    sent = [rig.tick().copy() for _ in range(4)]
    rig.engine.callback(np.zeros((BLOCK, 1), dtype=np.int16), None, BLOCK,
                        FakeTime(rig.device_time), FakeStatus())
    rig.engine.input.close()
    with anyio.fail_after(5):
        frames = [frame async for frame in rig.engine.input.frames()]
    assert len(frames) == 5
    for frame, block in zip(frames[:4], sent, strict=True):
        assert frame.reference is not None
        assert np.array_equal(frame.reference, block)
    assert np.array_equal(sent[0], _ramp(3 * BLOCK)[:BLOCK])
    assert not sent[3].any()  # the response ran out: a silent reference
    assert frames[4].reference is None


@pytest.mark.anyio
async def test_input_wakes_a_waiting_reader() -> None:
    """A reader blocked on an empty queue is woken by a capture from another thread."""
    engine = DuplexEngine(RATE, clock=Clock())
    got = []

    async def reader() -> None:
        async for frame in engine.input.frames():
            got.append(frame)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.wait_all_tasks_blocked()

            def capture_then_close() -> None:
                engine.callback(np.ones((BLOCK, 1), dtype=np.int16), None, BLOCK,
                                FakeTime(1.0, adc_lag=0.02), FakeStatus())
                engine.input.close()

            await anyio.to_thread.run_sync(capture_then_close)
    assert len(got) == 1 and got[0].samples.all()


def test_slow_reader_drops_oldest_blocks_and_counts_them() -> None:
    """A backlog beyond two seconds drops the oldest blocks instead of growing."""
    rig = Rig()
    for _ in range(110):  # 2.2 s of capture with nobody reading
        rig.tick()
    assert rig.engine.stats.input_dropped == 10


def test_jitter_buffer_trades_start_latency_for_underruns() -> None:
    """On a jittery real-time stream, a larger buffer starts later and underruns less."""
    sizes = (0, 100, 200, 300)
    runs = {j: [measure_jitter_buffer(j, seed=s, duration_s=5.0) for s in range(12)]
            for j in sizes}
    start = [np.mean([r.start_latency_ms for r in runs[j]]) for j in sizes]
    underruns = [np.mean([r.underruns for r in runs[j]]) for j in sizes]
    assert start == sorted(start) and start[-1] > start[0] + 200
    assert underruns == sorted(underruns, reverse=True) and underruns[0] > underruns[-1]
    assert measure_jitter_buffer(200, seed=3) == measure_jitter_buffer(200, seed=3)


def test_format_devices_marks_defaults() -> None:
    """The device table lists every device and marks default input and output."""
    devices = [
        DeviceInfo(0, "Built-in Mic", "ALSA", 2, 0, 48_000.0, True, False),
        DeviceInfo(1, "Speakers", "ALSA", 0, 2, 44_100.0, False, True),
    ]
    table = format_devices(devices).splitlines()
    assert len(table) == 3
    assert table[1].startswith(">") and "Built-in Mic" in table[1] and "48000" in table[1]
    assert table[2].startswith(" <") and "Speakers" in table[2] and "44100" in table[2]
    assert format_devices([]) == "no audio devices found"


def test_missing_sounddevice_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without sounddevice the error names the extra to install."""
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(AudioError, match=r"pip install 'realtalk\[audio\]'"):
        SoundDevice()
    with pytest.raises(AudioError, match=r"realtalk\[audio\]"):
        list_devices()


# --- a real PortAudio stream on a virtual ALSA device -------------------------------------

ASOUNDRC = """
pcm.realtalk_speaker {{
    type file
    slave.pcm "null"
    file "{path}"
    format "raw"
}}
pcm.realtalk_duplex {{
    type asym
    playback.pcm "realtalk_speaker"
    capture.pcm "null"
}}
"""


@pytest.fixture
def alsa_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A virtual ALSA duplex device whose speaker writes raw PCM16 to the returned file.

    ALSA reads ``~/.asoundrc``, so HOME points at a temporary one and PortAudio is
    re-initialised to see it (and again afterwards to forget it).
    """
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:  # OSError: the package is there, PortAudio is not
        pytest.skip(f"needs sounddevice and libportaudio2: {exc}")
    raw = tmp_path / "speaker.raw"
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(path=raw))
    monkeypatch.setenv("HOME", str(tmp_path))
    _reinit(sd)
    try:
        names = [d["name"] for d in sd.query_devices()]
        if "realtalk_duplex" not in names:
            pytest.skip(f"PortAudio has no ALSA backend here (devices: {names}); "
                        "install libportaudio2 and libasound2")
        yield raw
    finally:
        monkeypatch.undo()
        _reinit(sd)


def _reinit(sd: ModuleType) -> None:
    sd._terminate()
    sd._initialize()


async def _frames_until(dev: SoundDevice, condition: Callable[[], bool],
                        limit: int = 100_000) -> int:
    """Consume mic frames (one per device callback) until ``condition()`` holds."""
    n = 0
    async with contextlib.aclosing(dev.input.frames()) as frames:
        async for _ in frames:
            n += 1
            if condition() or n >= limit:
                break
    return n


def _heard(raw: Path) -> npt.NDArray[np.int16]:
    """The speaker file without PortAudio's leading priming silence."""
    data = np.fromfile(raw, dtype="<i2").astype(np.int16)
    nz = np.flatnonzero(data)
    return data[nz[0]:] if len(nz) else data[:0]


def test_real_device_is_listed(alsa_device: Path) -> None:
    """list_devices() sees the virtual ALSA device."""
    devices = list_devices()
    duplex = [d for d in devices if d.name == "realtalk_duplex"]
    assert duplex and duplex[0].max_input_channels > 0 and duplex[0].max_output_channels > 0
    assert "realtalk_duplex" in format_devices(devices)


@pytest.mark.anyio
async def test_real_stream_plays_a_response_to_the_sample(alsa_device: Path) -> None:
    """Full duplex on PortAudio: mic frames flow, the speaker receives exactly what we wrote."""
    clock = Clock()
    dev = SoundDevice(input_device="realtalk_duplex", output_device="realtalk_duplex",
                      sample_rate=RATE, block_ms=20, jitter_buffer_ms=200, clock=clock)
    response = _ramp(10 * BLOCK + 123)
    with anyio.fail_after(10):
        async with dev:
            dev.output.write(response)
            dev.output.mark_end()
            await _frames_until(dev, lambda: dev.output.handed_samples() == len(response))
            await _frames_until(dev, lambda: True, limit=3)  # let the tail reach the file
    clock.now = 1000.0
    assert dev.output.played_samples() == len(response)
    heard = _heard(alsa_device)
    np.testing.assert_array_equal(heard[:len(response)], response)
    assert not heard[len(response):].any()
    assert dev.stats.underruns == 0 and dev.stats.callbacks > 10
    assert not dev.active
    with pytest.raises(AudioError, match="closed"):
        dev.start()


@pytest.mark.anyio
async def test_real_stream_clear_stops_at_the_returned_count(alsa_device: Path) -> None:
    """clear() on a running PortAudio stream: the speaker got exactly the returned count."""
    clock = Clock()
    dev = SoundDevice(input_device="realtalk_duplex", output_device="realtalk_duplex",
                      sample_rate=RATE, jitter_buffer_ms=0, clock=clock)
    # The null device runs far faster than real time, so the response starts with five
    # blocks, the device drains them, and the remaining minute is queued and cleared at once.
    response = _ramp(60 * RATE)
    with anyio.fail_after(10):
        async with dev:
            dev.output.write(response[:5 * BLOCK])
            await _frames_until(dev, lambda: dev.output.handed_samples() == 5 * BLOCK)
            dev.output.write(response[5 * BLOCK:])
            count = dev.output.clear()
            await _frames_until(dev, lambda: True, limit=5)
            assert dev.output.handed_samples() == count
    assert count % BLOCK == 0 and 5 * BLOCK <= count < len(response)
    clock.now = 1000.0
    assert dev.output.played_samples() == count
    heard = _heard(alsa_device)
    np.testing.assert_array_equal(heard[:count], response[:count])
    assert not heard[count:].any()


def test_real_stream_rejects_a_bad_device(alsa_device: Path) -> None:
    """An unknown device name is an AudioError naming it, not a PortAudio exception."""
    dev = SoundDevice(input_device="no such device", output_device="no such device")
    with pytest.raises(AudioError, match="no such device"):
        dev.start()
