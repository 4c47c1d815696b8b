"""The fault benchmark runs: one conversation per kind of fault, each lost and recovered with
nothing lost or repeated, and the report adds its counts up."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import realtalk
from realtalk.testing import MemoryTranscriptStore
from realtalk.transcripts import TranscriptRecord

# The benchmarks folder is not a package: import the benchmark as a top-level module, and
# take the folder off the path again so that its other files cannot shadow anything later.
_BENCHMARKS = str(Path(__file__).resolve().parents[1] / "benchmarks")
sys.path.insert(0, _BENCHMARKS)
try:
    import faults as bench
finally:
    sys.path.remove(_BENCHMARKS)


@pytest.mark.parametrize("kind", bench.KINDS)
def test_a_conversation_with_a_fault_of_each_kind_recovers_whole(kind: str) -> None:
    result = bench.conversation(1, kind)
    assert result["lost"] and result["recovered"], result
    for key in ("wedged", "transcripts_lost", "transcripts_duplicated", "context_items_lost",
                "duplicate_replies"):
        assert not result[key], (key, result)
    assert len(result["recovery_ms"]) == (2 if kind == "restore" else 1)
    assert result["sessions"] == len(result["recovery_ms"]) + 1
    assert all(0 < ms < 1000 for ms in result["recovery_ms"])


def test_the_same_seed_draws_the_same_fault() -> None:
    first, second = (bench.plan_for("assistant_speech", random.Random(4)) for _ in range(2))
    assert first == second and len(first.faults) == 1
    assert len(bench.plan_for("restore", random.Random(4)).faults) == 2


def test_the_report_adds_up_the_counts() -> None:
    def result(**counts: object) -> dict[str, object]:
        base: dict[str, object] = {
            "lost": True, "recovered": True, "wedged": False, "transcripts_lost": 0,
            "transcripts_duplicated": 0, "context_items_lost": 0, "duplicate_replies": 0,
            "recovery_ms": [100.0], "sessions": 2, "simulated_s": 30.0}
        return {**base, **counts}

    report = bench.summarize([
        result(), result(recovered=False, wedged=True, recovery_ms=[]),
        result(transcripts_lost=2, duplicate_replies=1, recovery_ms=[300.0, 200.0]),
        result(lost=False, recovered=False, recovery_ms=[], context_items_lost=1,
               transcripts_duplicated=3)])
    assert report == {
        "conversations": 4, "connections_lost": 3, "wedged": 1, "transcripts_lost": 2,
        "transcripts_duplicated": 3, "context_items_lost": 1, "duplicate_replies": 1,
        "recovered_pct": 66.7, "recovery_ms": {"p50": 200.0, "p95": 290.0}, "reconnects": 3}


class _Item:
    def __init__(self, item_id: str, role: str, text: str, kind: str = "message") -> None:
        self.id, self.role, self.type, self._text = item_id, role, kind, text

    def text(self) -> str:
        return self._text


def test_the_counts_find_what_went_wrong() -> None:
    """A transcript received but not stored, one stored twice, a stored turn the last session
    does not hold, and two replies in a row: each is counted."""
    first = [_Item("u1", "user", "hello"), _Item("a1", "assistant", "Hi there."),
             _Item("u2", "user", "more")]
    last = [_Item("r1", "user", "hello"), _Item("r2", "assistant", "Hi"),
            _Item("a2", "assistant", "More."), _Item("a3", "assistant", "More again.")]
    server = SimpleNamespace(sessions=[SimpleNamespace(conversation=first),
                                       SimpleNamespace(conversation=last)])
    received = [json.dumps({"type": "conversation.item.input_audio_transcription.completed",
                            "item_id": item}) for item in ("u1", "u2")]
    received.append(json.dumps({"type": "response.output_audio_transcript.done",
                                "item_id": "a1"}))
    store = MemoryTranscriptStore()
    for item_id, text in (("u1", "hello"), ("a1", "Hi there."), ("a1", "Hi there."),
                          ("u9", "gone")):
        store.append(TranscriptRecord(conversation_id="c", item_id=item_id, text=text,
                                      role="user" if item_id[0] == "u" else "assistant",
                                      wall_time=0.0))
    events = [realtalk.Reconnecting(attempt=1, reason="reset", delay_s=0.1, at=1.0),
              realtalk.Reconnected(attempts=1, downtime_s=0.2, items_restored=2,
                                   lost_response=None, audio_dropped_ms=0.0, at=1.2)]
    counts = bench._count(server, SimpleNamespace(received=received),  # type: ignore[arg-type]
                          store, events, wedged=False, last_turn_at=0, simulated_s=5.0)
    assert counts["transcripts_lost"] == 1  # u2: received, never stored
    assert counts["transcripts_duplicated"] == 1  # a1, twice
    assert counts["context_items_lost"] == 0  # a1 is back, cut to what was heard
    assert counts["duplicate_replies"] == 1  # a2 then a3
    assert counts["recovery_ms"] == [200.0] and counts["lost"] and not counts["recovered"]
    last.pop(0)  # the restored user turn
    counts = bench._count(server, SimpleNamespace(received=received),  # type: ignore[arg-type]
                          store, events, wedged=False, last_turn_at=0, simulated_s=5.0)
    assert counts["context_items_lost"] == 1  # u1 is not
