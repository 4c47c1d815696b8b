"""The echo example runs and shows what it claims."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_echo_example_removes_echo_and_keeps_the_user() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLES / "echo_in_a_loud_room.py")],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    rows = re.findall(r"^\s+\d+\s+(-?[\d.]+) dB(.*)$", out, re.MULTILINE)
    assert len(rows) >= 10
    alone = [float(v) for v, note in rows[2:] if "talks over" not in note]
    over = [float(v) for v, note in rows if "talks over" in note]
    assert over, "the example has the user talk over the assistant"
    assert min(alone) > 30.0  # after the first seconds, > 30 dB of echo removed
    assert min(over) > 15.0  # and > 15 dB while the user talks over it
    raw, cleaned = map(float, re.findall(r"(-?[\d.]+) dB (?:clean|after)", out))
    assert cleaned > raw + 15.0


def test_echo_transcripts_example_drops_echo_and_keeps_the_user() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLES / "echo_transcripts.py")],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert len(re.findall(r"DROPPED as echo: 'The forecast", out)) >= 1
    assert "DROPPED as echo: 'Tomorrow looks dry" in out
    assert "kept: \"What's the weather like tomorrow?\"" in out
    assert "nobody should ever hear" not in out  # the replies to echo never play
    deleted, cancelled = map(int, re.findall(r"upstream: (\d+), .*playing: (\d+)", out)[0])
    assert deleted >= 2 and cancelled >= 2
