"""EchoDefences: one settings object for the echo defences, and the keywords it replaced."""

from __future__ import annotations

import pytest

import realtalk
from realtalk.echo import EchoCanceller, EchoDefences, EchoRiskWatch
from realtalk.sim import Simulation


def test_the_defaults_are_the_full_defences_without_half_duplex_or_calibration() -> None:
    conv = realtalk.Conversation(realtalk.providers.local())
    assert isinstance(conv.echo, realtalk.echo.EchoFilterChain)
    assert conv.echo_control.watch is not None
    assert conv.echo_control.transcript_filters is not None
    assert not conv.half_duplex
    assert conv.engine.echo_control.defences == EchoDefences()


def test_conversation_and_simulation_take_the_same_settings() -> None:
    watch = EchoRiskWatch()
    defences = EchoDefences(canceller=None, watch=watch, transcript_filters=None,
                            half_duplex=True)
    conv = realtalk.Conversation(realtalk.providers.local(), echo=defences)
    sim = Simulation([], echo=EchoDefences(canceller=None, transcript_filters=None,
                                           half_duplex=True))
    for control in (conv.echo_control, sim.echo_control):
        assert control.echo is None
        assert control.transcript_filters is None
        assert control.half_duplex
    assert conv.echo_control.watch is watch


@pytest.mark.parametrize(("keywords", "field", "value"), [
    ({"half_duplex": True}, "half_duplex", True),
    ({"transcript_filters": None}, "transcript_filters", None),
    ({"echo_watch": None}, "watch", None),
    ({"echo": None}, "canceller", None),
])
def test_the_old_keywords_still_work_with_a_deprecation_warning(
        keywords: dict[str, object], field: str, value: object) -> None:
    with pytest.warns(DeprecationWarning, match="EchoDefences") as caught:
        conv = realtalk.Conversation(realtalk.providers.local(), **keywords)  # type: ignore[arg-type]
    assert getattr(conv.echo_control.defences, field) == value
    # The warning points at the caller's line, not into realtalk.
    assert caught[0].filename == __file__


def test_an_old_canceller_keyword_works_in_the_simulator_too() -> None:
    canceller = EchoCanceller(24_000)
    with pytest.warns(DeprecationWarning, match=r"Simulation\(echo=<filter or None>\)"):
        sim = Simulation([], echo=canceller)
    assert sim.echo_control.echo is canceller


def test_old_keywords_cannot_be_mixed_with_the_settings_object() -> None:
    with pytest.raises(realtalk.ConfigurationError, match="half_duplex") as raised:
        realtalk.Conversation(realtalk.providers.local(), echo=EchoDefences(),
                              half_duplex=True)
    assert raised.value.argument == "half_duplex"


def test_calibration_at_start_runs_in_the_simulator() -> None:
    """The engine calibrates when the echo defences ask for it, so the simulator measures the
    room's echo path as a conversation would, before anything else plays."""
    room = realtalk.sim.RoomConfig(echo=realtalk.sim.EchoPath(delay_ms=30.0, gain_db=-12.0,
                                                              seed=2), noise_dbfs=-65.0)
    sim = Simulation([], room=room, echo=EchoDefences(calibrate_at_start=True))
    result = sim.run(4.0)
    (measured,) = [e for e in result.timeline if isinstance(e, realtalk.echo.EchoPathMeasurement)]
    assert measured.ok, measured
    assert measured.delay_ms == pytest.approx(30.0, abs=1.0)
    assert sim.engine.echo_path is measured
