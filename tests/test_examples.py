"""Every example runs from the installed wheel, outside the checkout, and shows what it claims."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # conftest is pytest's to import; only its type is needed here
    from conftest import InstalledWheel

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _echo_in_a_loud_room(out: str) -> None:
    rows = re.findall(r"^\s+\d+\s+(-?[\d.]+) dB(.*)$", out, re.MULTILINE)
    assert len(rows) >= 10
    alone = [float(v) for v, note in rows[2:] if "talks over" not in note]
    over = [float(v) for v, note in rows if "talks over" in note]
    assert over, "the example has the user talk over the assistant"
    assert min(alone) > 30.0  # after the first seconds, > 30 dB of echo removed
    assert min(over) > 15.0  # and > 15 dB while the user talks over it
    raw, cleaned = map(float, re.findall(r"(-?[\d.]+) dB (?:clean|after)", out))
    assert cleaned > raw + 15.0


def _echo_transcripts(out: str) -> None:
    assert len(re.findall(r"DROPPED as echo: 'The forecast", out)) >= 1
    assert "DROPPED as echo: 'Tomorrow looks dry" in out
    assert "kept: \"What's the weather like tomorrow?\"" in out
    assert "nobody should ever hear" not in out  # the replies to echo never play
    deleted, cancelled = map(int, re.findall(r"upstream: (\d+), .*playing: (\d+)", out)[0])
    assert deleted >= 2 and cancelled >= 1


def _backchannels(out: str) -> None:
    assert "checked (too short to confirm): 'Stop.' -> interruption" in out
    assert "the reply stops: truncated at" in out
    assert "confirmed: 'Yeah.' -> backchannel" in out
    assert "without checks: the reply was stopped 0 time(s)" in out


def _audit_echo(out: str) -> None:
    assert "transcript 'this is a long': DROPPED as echo" in out
    summary = re.search(r"(\d+) user transcript\(s\), (\d+) dropped as echo, (\d+) barge-in", out)
    assert summary is not None, out
    assert summary.groups() == ("1", "1", "1")
    assert "suspected echo (dropped" in out


def _local_conversation(out: str) -> None:
    assert "state: speaking -> cancelling" in out
    truncated = re.search(r"interrupted: truncated at (\d+) ms", out)
    heard = re.search(r"heard (\d+) ms of audio", out)
    assert truncated is not None and heard is not None, out
    # The model keeps what was played: the truncate equals the audio the speaker played.
    assert abs(int(truncated.group(1)) - int(heard.group(1))) <= 1


def _reconnect(out: str) -> None:
    lines = out.splitlines()
    assert lines[0] == "reconnecting (attempt 1): connection closed (no close frame)", out
    assert lines[1].startswith("reconnected after ") and "item(s) restored" in lines[1], out
    cut = re.search(r"cut off after \d+ ms: '(.*)'", out)
    first = "Lighthouses guide ships with a light that turns, and each has its own rhythm."
    assert cut is None or first.startswith(cut.group(1)), out
    held = lines[lines.index("the new session holds:") + 1:]
    assert held[0] == "  user: Tell me about lighthouses.", out
    assert "  user: Go on, please." in held, out


def _relay_server(out: str) -> None:
    lines = out.splitlines()
    assert any(line.startswith("relay -> response.cancel") for line in lines), out
    truncate = next(line for line in lines if "conversation.item.truncate" in line)
    assert "ms of audio sent" in truncate
    assert any(line.startswith("client: interrupted, heard ") for line in lines)


def _simulate_barge_in(out: str) -> None:
    assert "speaking -> cancelling" in out
    stopped = re.search(r"barge-in: stopped (\d+) ms after the user started, truncated at "
                        r"(\d+) ms", out)
    assert stopped is not None, out
    assert 0 < int(stopped.group(1)) < 1000
    level = re.search(r"the user's level, learned from their turn: (-\d+\.\d) dBFS", out)
    assert level is not None and -40.0 < float(level.group(1)) < -5.0, out
    assert "x real time" in out


def _tools(out: str) -> None:
    lines = out.splitlines()
    assert lines[0] == 'tool call: order_status({"order_id": "A-1042"})', out
    assert '"status": "shipped"' in lines[1] and lines[1].startswith("  answered in"), out
    assert lines[2].startswith("ai: The order_status tool answered:"), out
    assert lines[3] == 'tool call: book_callback({"slot": "morning"})', out
    assert lines[5] == ("ai: The book_callback tool answered: a call back is booked for "
                        "tomorrow morning."), out


def _hardest_room(out: str) -> None:
    rooms = re.findall(r"^seed (\d): delay (\d+) ms, RT60 ([\d.]+) s", out, re.MULTILINE)
    assert [int(seed) for seed, _, _ in rooms] == [0, 1, 2], out
    # The benchmark's live rooms: every draw within their ranges, and each a different room.
    assert all(40 <= int(delay) <= 150 and 0.4 <= float(rt60) <= 0.7 for _, delay, rt60 in rooms)
    assert len({delay for _, delay, _ in rooms}) == 3
    caught = re.findall(r"^  barge-in at [\d.]+ s, stopped (\d+) ms after its onset$", out,
                        re.MULTILINE)
    assert len(caught) >= 2 and all(0 < int(ms) < 2000 for ms in caught), out


CHECKS: dict[str, Callable[[str], None]] = {
    "audit_echo.py": _audit_echo,
    "backchannels.py": _backchannels,
    "echo_in_a_loud_room.py": _echo_in_a_loud_room,
    "echo_transcripts.py": _echo_transcripts,
    "hardest_room.py": _hardest_room,
    "local_conversation.py": _local_conversation,
    "reconnect.py": _reconnect,
    "relay_server.py": _relay_server,
    "simulate_barge_in.py": _simulate_barge_in,
    "tools.py": _tools,
}


def test_every_example_is_checked() -> None:
    """A new example must come with a check of what it prints."""
    assert set(CHECKS) == {path.name for path in EXAMPLES.glob("*.py")}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_example_runs_from_the_wheel(name: str, installed_wheel: InstalledWheel) -> None:
    """The example exits 0 with nothing on stderr, and its output shows what it claims."""
    done = installed_wheel.run(["python", str(EXAMPLES / name)], timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == "", done.stderr
    CHECKS[name](done.stdout)
