"""`realtalk transcripts PATH [--echo] [--conversation ID] [--json]` on real stores."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from realtalk.echo.transcript import TranscriptVerdict
from realtalk.transcripts import InterruptionMark, MarkKind, TranscriptRecord, open_store
from realtalk.transcripts.cli import add_parser, run

DROP = TranscriptVerdict(filter="timing", drop=True, reason="onset during playback",
                         score=0.92, matched="the forecast for saturday is sunny")


def _fill(path: Path) -> None:
    with open_store(path) as store:
        for cid, base in (("alpha", 0.0), ("beta", 100.0)):
            store.append(TranscriptRecord(
                conversation_id=cid, item_id="a1", role="assistant",
                text="The forecast for Saturday is sunny.", wall_time=1_700_000_000.0 + base,
                at=base, response_id="r1", interrupted=True, heard_ms=1500.0))
            store.append(InterruptionMark(conversation_id=cid, item_id="a1",
                                          kind="interrupted", heard_ms=1500.0,
                                          wall_time=1_700_000_001.0 + base, at=base + 1,
                                          detail="source=local"))
            store.append(TranscriptRecord(
                conversation_id=cid, item_id="u1", role="user", text="the forecast for",
                wall_time=1_700_000_002.0 + base, at=base + 2, dropped=True, verdicts=(DROP,)))
            store.append(TranscriptRecord(
                conversation_id=cid, item_id="u2", role="user", text="what about sunday",
                wall_time=1_700_000_003.0 + base, at=base + 3))


def _run(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="realtalk")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["transcripts", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(params=[".db", ".jsonl"])
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A store of each kind with two conversations."""
    path = tmp_path / f"transcripts{request.param}"
    _fill(path)
    return path


def test_lists_conversations_with_marks_and_verdicts(filled: Path) -> None:
    """Text output: a heading per conversation, then its turns with their notes."""
    code, out, _ = _run(str(filled))
    assert code == 0
    assert "conversation alpha  2023-11-14 22:13:20 UTC: 2 user (1 dropped as echo), " \
           "1 assistant, 1 interruption(s)" in out
    assert "The forecast for Saturday is sunny.  [interrupted, 1500 ms heard]" in out
    assert "-- barge-in (source=local, 1500 ms heard) --" in out
    assert "the forecast for  [DROPPED as echo by timing]" in out
    assert out.count("conversation ") == 2


def test_reconnects_and_rollovers_are_listed_in_place_and_counted(tmp_path: Path) -> None:
    """The marks of a lost connection and of a rollover stand between the turns where they
    happened, and the conversation's heading counts them (only when there are any)."""
    path = tmp_path / "t.db"
    _fill(path)
    with open_store(path) as store:
        marks: list[tuple[int, MarkKind, str]] = [
            (0, "reconnected", "attempts=1 downtime_ms=212"),
            (2, "rolled_over", "session_age_s=1500.00")]
        for n, kind, detail in marks:
            store.append(InterruptionMark(conversation_id="alpha", item_id=None, kind=kind,
                                          heard_ms=None, wall_time=1_700_000_001.5 + n,
                                          at=1.5 + n, detail=detail))
    code, out, _ = _run(str(path), "--conversation", "alpha")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("1 interruption(s), 1 reconnect(s), 1 rollover(s)")
    assert [line.split("  ", 2)[-1].strip() for line in lines[1:7]] == [
        "assistant  The forecast for Saturday is sunny.  [interrupted, 1500 ms heard]",
        "-- barge-in (source=local, 1500 ms heard) --",
        "-- connection lost and restored (attempts=1 downtime_ms=212) --",
        "user       the forecast for  [DROPPED as echo by timing]",
        "user       what about sunday",
        "-- rolled over to a new session (session_age_s=1500.00) --",
    ]
    code, out, _ = _run(str(path), "--conversation", "beta")
    assert out.splitlines()[0].endswith("1 interruption(s)")


def test_echo_lists_suspects_only(filled: Path) -> None:
    """--echo: the dropped transcript, why, and what the assistant had said."""
    code, out, _ = _run(str(filled), "--echo", "--conversation", "beta")
    assert code == 0
    assert out.startswith(f"1 suspected echo(es) in {filled}")
    assert "user: 'the forecast for'" in out
    assert "dropped, score 0.92: timing: onset during playback" in out
    assert "assistant had said: 'the forecast for saturday is sunny'" in out
    assert "alpha" not in out


def test_json_output_is_machine_readable(filled: Path) -> None:
    """--json: a JSON array of entries (or of suspects with --echo)."""
    code, out, _ = _run(str(filled), "--json", "--conversation", "alpha")
    assert code == 0
    entries = json.loads(out)
    assert [e["type"] for e in entries] == ["transcript", "mark", "transcript", "transcript"]
    assert entries[2]["dropped"] is True
    assert entries[2]["verdicts"][0]["filter"] == "timing"
    code, out, _ = _run(str(filled), "--json", "--echo")
    suspects = json.loads(out)
    assert [s["record"]["conversation_id"] for s in suspects] == ["alpha", "beta"]
    assert suspects[0]["how"] == "dropped"


def test_a_missing_store_is_an_error(tmp_path: Path) -> None:
    """A path with no store: exit 1 and the reason on stderr."""
    code, out, err = _run(str(tmp_path / "nothing.db"))
    assert code == 1
    assert out == ""
    assert "no transcript store" in err


def test_runs_as_a_process(filled: Path) -> None:
    """The module runs on its own, as `realtalk transcripts` will."""
    done = subprocess.run([sys.executable, "-m", "realtalk.transcripts.cli", str(filled),
                           "--echo"], capture_output=True, text=True, check=True)
    assert "2 suspected echo(es)" in done.stdout
