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
    removed = [float(v) for v in re.findall(r"^\s+\d+\s+(-?[\d.]+) dB", out, re.MULTILINE)]
    assert len(removed) >= 10
    assert min(removed[3:]) > 20.0  # after the first seconds, > 20 dB of echo removed
    raw, cleaned = map(float, re.findall(r"(-?[\d.]+) dB (?:clean|after)", out))
    assert cleaned > raw + 15.0
