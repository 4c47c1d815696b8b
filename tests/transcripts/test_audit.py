"""Suspected echoes: dropped, near misses, and unfiltered transcripts judged afresh."""

from __future__ import annotations

from pathlib import Path

from realtalk.echo.transcript import TranscriptVerdict
from realtalk.transcripts import JSONLTranscriptStore, TranscriptRecord, suspected_echoes

AI = "The forecast for Saturday is sunny with a high of 75 degrees."


def _ai(t: float, conversation_id: str = "c") -> TranscriptRecord:
    return TranscriptRecord(conversation_id=conversation_id, item_id=f"a{t}",
                            role="assistant", text=AI, wall_time=1000.0 + t, at=t)


def _user(t: float, text: str, *, conversation_id: str = "c", dropped: bool = False,
          verdicts: tuple[TranscriptVerdict, ...] = ()) -> TranscriptRecord:
    return TranscriptRecord(conversation_id=conversation_id, item_id=f"u{t}", role="user",
                            text=text, wall_time=1000.0 + t, at=t, dropped=dropped,
                            verdicts=verdicts)


def test_dropped_near_miss_and_rejudged_transcripts_are_suspects(tmp_path: Path) -> None:
    """Dropped: suspect; kept with a high score: near miss; kept with a low score: not;
    unfiltered and like the assistant's last words: rejudged suspect; unlike them, or too
    short to tell without the audio: not."""
    drop = TranscriptVerdict(filter="timing", drop=True, reason="echo", score=0.9,
                             matched="the forecast")
    close = TranscriptVerdict(filter="similarity", drop=False, reason="close", score=0.7)
    low = TranscriptVerdict(filter="similarity", drop=False, reason="far", score=0.2)
    with JSONLTranscriptStore(tmp_path / "t.jsonl") as store:
        store.append(_ai(0.0))
        store.append(_user(3.0, "the forecast for saturday", dropped=True, verdicts=(drop,)))
        store.append(_user(4.0, "saturday is sunny right", verdicts=(close,)))
        store.append(_user(5.0, "what about sunday", verdicts=(low,)))
        store.append(_user(6.0, "sunny with a high of seventy five"))
        store.append(_user(7.0, "no I said the forecast for Sunday not Saturday"))
        store.append(_user(8.0, "sunny"))
        suspects = suspected_echoes(store)
    assert [(s.record.text, s.how) for s in suspects] == [
        ("the forecast for saturday", "dropped"),
        ("saturday is sunny right", "near_miss"),
        ("sunny with a high of seventy five", "rejudged"),
    ]
    assert suspects[0].reason == "timing: echo"
    assert suspects[0].assistant_text == "the forecast"
    assert suspects[2].score >= 0.8
    assert suspects[2].assistant_text is not None and "sunny" in suspects[2].assistant_text


def test_rejudging_compares_within_the_conversation_and_window(tmp_path: Path) -> None:
    """The assistant of another conversation, or one long before, does not make a suspect."""
    with JSONLTranscriptStore(tmp_path / "t.jsonl") as store:
        store.append(_ai(0.0, conversation_id="other"))
        store.append(_user(2.0, "sunny with a high of seventy five"))
        store.append(_ai(10.0))
        store.append(_user(40.0, "sunny with a high of seventy five"))
        assert suspected_echoes(store) == []
        assert suspected_echoes(store, "c", rejudge=False) == []
