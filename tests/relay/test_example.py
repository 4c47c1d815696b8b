"""examples/relay_server.py runs, and shows a barge-in passing the relay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "relay_server.py"


def test_the_relay_example_runs() -> None:
    """The example prints the cancel and the truncate the relay forwarded, and the cut."""
    result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                            timeout=60, check=True)
    lines = result.stdout.splitlines()
    assert any(line.startswith("relay -> response.cancel") for line in lines), result.stdout
    truncate = next(line for line in lines if "conversation.item.truncate" in line)
    assert "ms of audio sent" in truncate
    assert any(line.startswith("client: interrupted, heard ") for line in lines)
    assert result.stderr == ""
