"""`realtalk demo`: the scripted barge-in really happens, as measured, on both backends."""

from __future__ import annotations

import subprocess
import sys

import pytest

from realtalk.demo import run_demo

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
