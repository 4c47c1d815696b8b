"""Records and marks as plain JSON, and back."""

from __future__ import annotations

import pytest

from realtalk.echo.transcript import TranscriptVerdict
from realtalk.transcripts import (
    InterruptionMark,
    TranscriptRecord,
    TranscriptStoreError,
    entry_from_dict,
    entry_to_dict,
)


def test_round_trip_through_json_objects() -> None:
    """Every field survives entry_to_dict -> entry_from_dict; the id comes from the reader."""
    record = TranscriptRecord(
        conversation_id="c", item_id="u1", role="user", text="hello", wall_time=1.5, at=2.5,
        dropped=True, verdicts=[TranscriptVerdict(filter="timing", drop=True, reason="r",
                                                  score=0.9, matched="hello there")])
    mark = InterruptionMark(conversation_id="c", item_id="a1", kind="false_interruption",
                            heard_ms=None, wall_time=3.0, detail="resumed=True")
    assert entry_from_dict(entry_to_dict(record)) == record
    assert entry_from_dict(entry_to_dict(mark), id=7) == InterruptionMark(
        conversation_id="c", item_id="a1", kind="false_interruption", heard_ms=None,
        wall_time=3.0, detail="resumed=True", id=7)
    assert "id" not in entry_to_dict(record)
    assert isinstance(record.verdicts, tuple)


@pytest.mark.parametrize(("data", "message"), [
    ({"type": "note"}, "unknown transcript entry type 'note'"),
    ({"type": "transcript", "conversation_id": "c"}, "malformed"),
    ({"type": "transcript", "conversation_id": "c", "item_id": None, "role": "robot",
      "text": "x", "wall_time": 1.0}, "robot"),
    ({"type": "mark", "conversation_id": "c", "kind": "interrupted", "wall_time": "noon"},
     "malformed"),
    ({"type": "mark", "conversation_id": "c", "kind": "applause", "wall_time": 1.0},
     "unknown mark kind 'applause': expected one of 'interrupted', 'false_interruption', "
     "'reconnected', 'rolled_over'"),
    ({"type": "transcript", "conversation_id": "c", "item_id": None, "role": "user",
      "text": "x", "wall_time": 1.0, "verdicts": [{"filter": "f"}]}, "malformed verdict"),
])
def test_malformed_objects_are_store_errors(data: dict[str, object], message: str) -> None:
    """A wrong type, a missing field or a bad value is a TranscriptStoreError naming it."""
    with pytest.raises(TranscriptStoreError, match=message):
        entry_from_dict(data)


def test_max_score_is_the_highest_verdict_score() -> None:
    """max_score: the most echo-like opinion, 0 without verdicts."""
    verdicts = [TranscriptVerdict(filter=f, drop=False, reason="", score=s)
                for f, s in (("a", 0.2), ("b", 0.7))]
    record = TranscriptRecord(conversation_id="c", item_id=None, role="user", text="x",
                              wall_time=0.0, verdicts=verdicts)
    assert record.max_score == 0.7
    assert TranscriptRecord(conversation_id="c", item_id=None, role="user", text="x",
                            wall_time=0.0).max_score == 0.0
