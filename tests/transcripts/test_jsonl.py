"""The JSONL store: one object per line, cut and broken lines handled."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from realtalk.transcripts import JSONLTranscriptStore, TranscriptRecord, TranscriptStoreError


def _record(i: int) -> TranscriptRecord:
    return TranscriptRecord(conversation_id="c", item_id=f"u{i}", role="user",
                            text=f"hé {i}", wall_time=time.time(), at=float(i))


def test_each_entry_is_one_json_line(tmp_path: Path) -> None:
    """The file holds one JSON object per line, typed, in UTF-8."""
    path = tmp_path / "t.jsonl"
    with JSONLTranscriptStore(path, fsync=True) as store:
        store.append(_record(0))
        store.append(_record(1))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["type"] == "transcript"
    assert first["text"] == "hé 0"


def test_a_cut_last_line_is_left_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A last line without its newline (a write cut short) is skipped with a warning; the
    store appends after it on a new line."""
    path = tmp_path / "t.jsonl"
    with JSONLTranscriptStore(path) as store:
        store.append(_record(0))
    with path.open("ab") as f:
        f.write(b'{"type": "transcript", "conversa')
    with caplog.at_level(logging.WARNING, logger="realtalk.transcripts.jsonl"):
        records = JSONLTranscriptStore(path, readonly=True).records()
    assert [r.item_id for r in records] == ["u0"]
    assert "no newline" in caplog.text


def test_a_broken_line_names_its_number(tmp_path: Path) -> None:
    """A complete line that is not a valid entry is an error naming the line."""
    path = tmp_path / "t.jsonl"
    with JSONLTranscriptStore(path) as store:
        store.append(_record(0))
    with path.open("a", encoding="utf-8") as f:
        f.write("not json\n")
    with pytest.raises(TranscriptStoreError, match="line 2: not JSON"):
        JSONLTranscriptStore(path, readonly=True).entries()
    path.write_text('[1, 2]\n{"type": "transcript"}\n', encoding="utf-8")
    with pytest.raises(TranscriptStoreError, match="line 1: expected a JSON object"):
        JSONLTranscriptStore(path, readonly=True).entries()
    path.write_text('{"type": "transcript"}\n', encoding="utf-8")
    with pytest.raises(TranscriptStoreError, match="line 1: malformed"):
        JSONLTranscriptStore(path, readonly=True).entries()
    path.write_text('{"type": "mark", "conversation_id": "c", "kind": "applause", '
                    '"wall_time": 1.0}\n', encoding="utf-8")
    with pytest.raises(TranscriptStoreError, match="line 1: unknown mark kind 'applause'"):
        JSONLTranscriptStore(path, readonly=True).entries()


def test_ids_are_line_numbers(tmp_path: Path) -> None:
    """Read back, an entry's id is its line number, blank lines counted."""
    path = tmp_path / "t.jsonl"
    with JSONLTranscriptStore(path) as store:
        store.append(_record(0))
    with path.open("a", encoding="utf-8") as f:
        f.write("\n")
    with JSONLTranscriptStore(path) as store:
        store.append(_record(1))
        assert [e.id for e in store.entries()] == [1, 3]


def test_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    """A path in a missing directory fails with the path in the message."""
    with pytest.raises(TranscriptStoreError, match="missing"):
        JSONLTranscriptStore(tmp_path / "missing" / "t.jsonl")
