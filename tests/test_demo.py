"""`realtalk demo`: the scripted barge-in really happens, as measured, on both backends."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from realtalk.cli import main
from realtalk.demo import run_demo
from realtalk.errors import ConfigurationError

pytestmark = pytest.mark.anyio


# asyncio is covered by the CLI test below, which runs the real command.
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_demo_interrupts_and_measures() -> None:
    """The demo's user talks over the AI; stop, cancel, truncate and a new answer all happen."""
    lines: list[str] = []
    result = await run_demo(print_line=lines.append)
    assert result.ok, result.problems
    event = result.interruption
    assert event is not None
    assert event.source == "local"
    assert event.cancel_sent
    assert event.truncate_ms is not None
    assert result.truncated_upstream_ms == event.truncate_ms
    assert result.generated_ms is not None
    assert event.truncate_ms < result.generated_ms
    assert event.latency.stop_ms is not None
    assert result.answered_after
    # The AI's voice reached the microphone through the virtual room, 30 dB down.
    assert result.echo.echo_dbfs < result.echo.speaker_dbfs - 25
    assert result.echo.echo_dbfs > -90
    text = "\n".join(lines)
    assert "BARGE-IN" in text
    assert "result: OK" in text


def test_cli_demo_exit_code() -> None:
    """`realtalk demo` exits 0 and prints the measured numbers."""
    out = subprocess.run([sys.executable, "-m", "realtalk.cli", "demo"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "speech onset -> playback stopped" in out.stdout
    assert "result: OK" in out.stdout


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize(("option", "value"), [
    ("barge_in_after", -1.0), ("barge_in_after", math.nan), ("barge_in_after", math.inf),
    ("time_limit", 0.0), ("time_limit", -5.0),
])
async def test_bad_option_is_a_configuration_error(option: str, value: float) -> None:
    """A negative, infinite or NaN delay is refused at once, naming the option."""
    lines: list[str] = []
    with pytest.raises(ConfigurationError, match=f"^{option}="):
        await run_demo(print_line=lines.append, **{option: value})
    assert lines == []


def test_cli_bad_delay_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`realtalk demo --barge-in-after -1` says what is wrong in one line and exits 2."""
    assert main(["demo", "--barge-in-after", "-1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "realtalk demo: barge_in_after=-1.0: expected a finite number of seconds >= 0"]
