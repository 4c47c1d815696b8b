"""`realtalk demo`: the scripted barge-in really happens, as measured, on both backends, and the
printout tells one story: a sorted timeline whose differences are the summary's figures."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest

from realtalk.cli import main
from realtalk.demo import EchoReport, _judge, _Timeline, run_demo
from realtalk.errors import ConfigurationError
from realtalk.session import Interrupted, InterruptionLatency, Truncated
from realtalk.testing import virtual_backend

pytestmark = pytest.mark.anyio

_TIMELINE = re.compile(r"^ *(?P<s>\d+)\.(?P<ms>\d{3})s  (?P<text>.+)$")
_ROW = re.compile(r"^  (?P<label>\S.*?) +: (?P<value>.+?) \((?P<why>[^()]+)\)$")
# Each figure measured from the onset, and the timeline line that marks its end.
_MARKS = {
    "onset -> detector's onset estimate": "detector: speech starts here",
    "onset -> playback ducked": "playback ducked",
    "onset -> barge-in confirmed": "BARGE-IN confirmed",
    "onset -> playback stopped": "playback stopped",
    "onset -> response.cancel sent": "response.cancel sent",
    "onset -> response.done": "server: response cancelled",
}


def _timeline(lines: list[str]) -> list[tuple[int, str]]:
    """The timeline's lines as (milliseconds, text), in printed order."""
    out = []
    for line in lines:
        if not line:
            break
        match = _TIMELINE.match(line)
        assert match, f"not a timeline line: {line!r}"
        out.append((int(match["s"]) * 1000 + int(match["ms"]), match["text"]))
    return out


def _summary(lines: list[str]) -> tuple[str, dict[str, tuple[str, str]]]:
    """The summary's header and its rows, label -> (value, explanation); every row up to the
    result must carry an explanation."""
    start = lines.index("") + 1
    header = lines[start]
    rows: dict[str, tuple[str, str]] = {}
    for line in lines[start + 1:]:
        if line.startswith("  result:"):
            return header, rows
        match = _ROW.match(line)
        assert match, f"summary line without an explanation in parentheses: {line!r}"
        assert match["why"].strip(), line
        rows[match["label"]] = (match["value"], match["why"])
    raise AssertionError("no result line")


def _at(timeline: list[tuple[int, str]], prefix: str) -> int:
    found = [ms for ms, text in timeline if text.startswith(prefix)]
    assert len(found) == 1, (prefix, timeline)
    return found[0]


def _check_printout(lines: list[str]) -> None:
    """The timeline is in time order, and every onset figure of the summary is the difference
    of two of its lines, to the digit."""
    timeline = _timeline(lines)
    times = [ms for ms, _ in timeline]
    assert times == sorted(times), "\n".join(lines)
    header, rows = _summary(lines)
    onset = _at(timeline, "ONSET")
    assert header.startswith(f"measured from the onset at {onset / 1000:.3f}s"), header
    for label, mark in _MARKS.items():
        assert label in rows, (label, rows)
        value = rows[label][0]
        assert value == f"{_at(timeline, mark) - onset} ms", (label, value, "\n".join(lines))


# In virtual time, on both backends, with the server in the test's loop; the CLI test below
# runs the real command: real time, the server on its own thread, a real socket.
@pytest.mark.parametrize("anyio_backend", [virtual_backend("asyncio"), virtual_backend("trio")],
                         ids=["asyncio", "trio"])
async def test_demo_interrupts_and_measures() -> None:
    """The demo's user talks over the AI; stop, cancel, truncate and a new answer all happen,
    and the printout agrees with itself."""
    lines: list[str] = []
    result = await run_demo(print_line=lines.append, in_process=True)
    assert result.ok, result.problems
    event = result.interruption
    assert event is not None
    assert event.source == "local"
    assert event.cancel_sent
    assert event.truncate_ms is not None
    assert result.truncated_upstream_ms == event.truncate_ms
    assert result.generated_ms is not None
    assert event.truncate_ms < result.generated_ms
    assert result.answered_after
    # Measured from the true onset: every step comes after it, in causal order.
    assert result.onset is not None and result.latency is not None
    lat = result.latency
    assert lat.onset == result.onset
    duck, detect, stop = lat.duck_ms, lat.detect_ms, lat.stop_ms
    assert duck is not None and detect is not None and stop is not None
    assert 0 < duck <= detect <= stop
    # The detector's estimate: the start of a 20 ms frame that holds speech.
    assert result.onset_estimate_ms is not None and result.onset_estimate_ms > -20.0
    assert event.latency.stop_ms == pytest.approx(stop - result.onset_estimate_ms)
    # The AI's voice reached the microphone through the virtual room, 30 dB down.
    assert result.echo.echo_dbfs < result.echo.speaker_dbfs - 25
    assert result.echo.echo_dbfs > -90
    _check_printout(lines)
    assert lines[-1] == "  result: OK"


def test_cli_demo_exit_code() -> None:
    """`realtalk demo` exits 0 and prints a timeline and figures that agree."""
    out = subprocess.run([sys.executable, "-m", "realtalk.cli", "demo"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    _check_printout(out.stdout.splitlines())
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
        await run_demo(print_line=lines.append, **{option: value})  # type: ignore[arg-type]
    assert lines == []


def test_cli_bad_delay_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`realtalk demo --barge-in-after -1` says what is wrong in one line and exits 2."""
    assert main(["demo", "--barge-in-after", "-1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "realtalk demo: barge_in_after=-1.0: expected a finite number of seconds >= 0"]


def test_timeline_sorts_by_time_then_cause() -> None:
    """Lines print in time order; at the same instant a cause comes before what it led to,
    whatever order they were added in; nothing is printed before it is released."""
    printed: list[str] = []
    timeline = _Timeline(10.0, printed.append)
    timeline.add(10.5, "state: speaking -> cancelling")
    timeline.add(10.25, "user talks over")
    timeline.add(10.5, "barge-in confirmed", cause=True)
    timeline.add(10.75, "later")
    timeline.release(10.5)
    assert printed == ["  0.250s  user talks over", "  0.500s  barge-in confirmed",
                       "  0.500s  state: speaking -> cancelling"]
    timeline.release()
    assert printed[-1] == "  0.750s  later"


def _interrupted(*, onset: float, cancel_sent: bool = True) -> Interrupted:
    return Interrupted(
        response_id="resp_1", item_id="item_1", source="local", heard_ms=800.0,
        received_ms=3000.0, truncate_ms=800, cancel_sent=cancel_sent, timed_out=False,
        latency=InterruptionLatency(onset=onset, detected=onset + 0.12,
                                    playback_stopped=onset + 0.121,
                                    cancel_sent=onset + 0.122 if cancel_sent else None,
                                    truncate_sent=onset + 0.122,
                                    acknowledged=onset + 0.123 if cancel_sent else None))


def _judged(onset: float, interrupted: Interrupted, *, cancel_due: bool = True) -> list[str]:
    result = _judge(onset=onset, frame_s=0.02, interrupted=interrupted, cancel_due=cancel_due,
                    truncated=Truncated(item_id="item_1", audio_end_ms=800, at=onset + 0.2),
                    generated_ms=3000.0, answered_after=True, problems=[],
                    echo=EchoReport(speaker_dbfs=-20.0, echo_dbfs=-50.0, user_dbfs=-18.0))
    assert result.ok == (not result.problems)
    return list(result.problems)


def test_judge_measures_from_the_true_onset() -> None:
    """The result's latency counts from the user's first sample, not the detector's frame."""
    result = _judge(onset=4.0, frame_s=0.02, interrupted=_interrupted(onset=4.1),
                    cancel_due=True,
                    truncated=Truncated(item_id="item_1", audio_end_ms=800, at=4.3),
                    generated_ms=3000.0, answered_after=True, problems=[],
                    echo=EchoReport(speaker_dbfs=-20.0, echo_dbfs=-50.0, user_dbfs=-18.0))
    assert result.ok, result.problems
    assert result.latency is not None and result.latency.stop_ms == pytest.approx(221.0)
    assert result.onset_estimate_ms == pytest.approx(100.0)


def test_judge_fails_a_barge_in_before_the_user_spoke() -> None:
    """A detector that fired before the user's first sample heard something else: not OK."""
    assert _judged(4.0, _interrupted(onset=4.015)) == []  # within the first speech frame
    problems = _judged(4.0, _interrupted(onset=3.5))
    assert problems == ["the barge-in began 500 ms before the user spoke: it was not the "
                        "user's speech"]


def test_judge_wants_a_cancel_only_for_a_response_still_generating() -> None:
    """Cutting a response the server had finished needs no response.cancel; else it must go."""
    assert _judged(4.0, _interrupted(onset=4.1, cancel_sent=False), cancel_due=False) == []
    assert _judged(4.0, _interrupted(onset=4.1, cancel_sent=False)) == [
        "response.cancel was not sent"]
