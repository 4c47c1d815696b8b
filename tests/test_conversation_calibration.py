"""Conversation.calibrate(): the echo path measured through a (simulated) sound card (against
the in-process server, in virtual time)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import realtalk
from realtalk.echo import EchoCanceller, EchoFilterChain, EchoPathMeasurement
from realtalk.sim import EchoPath, Room, RoomConfig, SimulatedDevice
from realtalk.testing import InProcessServer, virtual_backend

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each test on both backends, in virtual time."""
    return virtual_backend(request.param)


async def test_calibration_measures_the_room_and_seeds_the_canceller_and_gate() -> None:
    """A 60 ms, -10 dB echo path: the probe played through the simulated sound card is
    measured to the millisecond and the dB, and the canceller and gate start from it."""
    path = EchoPath(delay_ms=60.0, gain_db=-10.0, seed=5)
    room = Room(RoomConfig(echo=path, noise_dbfs=-65.0))
    device = SimulatedDevice(room)
    conv = realtalk.Conversation(InProcessServer(), input=device.input, output=device.output)
    async with conv:
        with anyio.fail_after(15):
            measurement = await conv.calibrate()
        device.close()
    assert measurement.ok, measurement.reason
    assert measurement.delay_ms == pytest.approx(60.0, abs=1.0)
    assert measurement.gain_db == pytest.approx(-10.0, abs=2.0)
    assert isinstance(conv.echo, EchoFilterChain)
    canceller = conv.echo.filters[0]
    assert isinstance(canceller, EchoCanceller)
    expected = round(60.0 * 24) - canceller.delay_margin
    assert abs(canceller.bulk_delay - expected) <= 24
    gate = conv._detector.gate if conv._detector is not None else None
    assert isinstance(gate, realtalk.echo.EchoGate)
    assert gate.gain_db == pytest.approx(measurement.gain_db, abs=6.0)
    # Nothing of the probe's echo went upstream or to the detector: no user speech seen.
    assert not conv.interruptions


async def test_headphones_give_an_untrusted_measurement_that_seeds_nothing() -> None:
    device = SimulatedDevice(Room(RoomConfig.headphones()))
    conv = realtalk.Conversation(InProcessServer(), input=device.input, output=device.output)
    async with conv:
        with anyio.fail_after(15):
            measurement = await conv.calibrate()
        device.close()
    assert not measurement.ok
    assert "no echo" in (measurement.reason or "")
    assert isinstance(conv.echo, EchoFilterChain)
    assert conv.echo.filters[0].bulk_delay == 0  # type: ignore[attr-defined]


async def test_a_microphone_without_reference_cannot_calibrate() -> None:
    """MemoryInput cannot know what the speaker played: a clear error, not a guess."""
    mic = realtalk.audio.MemoryInput(noise_dbfs=-70.0)
    conv = realtalk.Conversation(InProcessServer(), input=mic)
    async with conv:
        with anyio.fail_after(15), pytest.raises(realtalk.ConfigurationError,
                                                 match=r"AudioFrame\.reference"):
            await conv.calibrate()


async def test_calibrating_at_start_measures_before_anything_else() -> None:
    """calibrate_at_start=True: the conversation is entered only once the path is measured;
    the figures are kept and are the first event the app reads after the state change."""
    room = Room(RoomConfig(echo=EchoPath(delay_ms=30.0, gain_db=-12.0, seed=2),
                           noise_dbfs=-65.0))
    device = SimulatedDevice(room)
    conv = realtalk.Conversation(InProcessServer(), input=device.input, output=device.output,
                                 echo=realtalk.EchoDefences(calibrate_at_start=True))
    async with conv:
        assert conv.echo_path is not None and conv.echo_path.ok, conv.echo_path
        assert conv.echo_path.delay_ms == pytest.approx(30.0, abs=1.0)
        with anyio.fail_after(5):
            async for event in conv.events():
                if isinstance(event, EchoPathMeasurement):
                    assert event is conv.echo_path
                    break
        device.close()


async def test_calibrating_at_start_without_a_reference_fails_cleanly() -> None:
    mic = realtalk.audio.MemoryInput(noise_dbfs=-70.0)
    conv = realtalk.Conversation(InProcessServer(), input=mic,
                                 echo=realtalk.EchoDefences(calibrate_at_start=True))
    with anyio.fail_after(15), pytest.raises(realtalk.ConfigurationError,
                                             match=r"AudioFrame\.reference"):
        async with conv:
            pass
    assert conv.closed


def test_calibrating_at_start_needs_a_microphone() -> None:
    with pytest.raises(realtalk.ConfigurationError, match="microphone"):
        realtalk.Conversation(InProcessServer(),
                              echo=realtalk.EchoDefences(calibrate_at_start=True))
