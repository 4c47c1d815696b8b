"""The SQLite store: WAL on a real file, schema checks, readers beside a writer."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from realtalk.transcripts import SQLiteTranscriptStore, TranscriptRecord, TranscriptStoreError
from realtalk.transcripts.sqlite import SCHEMA_VERSION


def _record(i: int) -> TranscriptRecord:
    return TranscriptRecord(conversation_id="c", item_id=f"u{i}", role="user", text=f"hi {i}",
                            wall_time=time.time(), at=float(i))


def test_database_is_in_wal_mode_with_the_schema(tmp_path: Path) -> None:
    """A new file gets WAL journaling, the schema and its version."""
    path = tmp_path / "t.db"
    with SQLiteTranscriptStore(path) as store:
        store.append(_record(0))
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"transcripts", "marks"} <= tables
    finally:
        conn.close()


def test_a_reader_sees_each_record_once_appended(tmp_path: Path) -> None:
    """Each append is committed on return: a second, read-only store sees it at once, while
    the writer stays open."""
    path = tmp_path / "t.db"
    with SQLiteTranscriptStore(path) as writer, \
            SQLiteTranscriptStore(path, readonly=True) as reader:
        for i in range(5):
            writer.append(_record(i))
            assert [r.item_id for r in reader.records()][-1] == f"u{i}"


def test_close_checkpoints_the_wal_into_the_database(tmp_path: Path) -> None:
    """After close, the WAL is folded into the database file and removed."""
    path = tmp_path / "t.db"
    with SQLiteTranscriptStore(path, durability="power") as store:
        for i in range(200):
            store.append(_record(i))
        assert Path(f"{path}-wal").exists()
    assert not Path(f"{path}-wal").exists()
    with SQLiteTranscriptStore(path, readonly=True) as store:
        assert len(store.records()) == 200


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database written by a newer realtalk is not misread."""
    path = tmp_path / "t.db"
    SQLiteTranscriptStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(TranscriptStoreError, match="schema 2"):
        SQLiteTranscriptStore(path)


def test_a_foreign_database_is_refused_read_only(tmp_path: Path) -> None:
    """Reading a SQLite file that holds no transcripts is an error, not an empty list."""
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(TranscriptStoreError, match="no transcripts"):
        SQLiteTranscriptStore(path, readonly=True)


def test_bad_durability_is_refused(tmp_path: Path) -> None:
    """Only 'process' and 'power' are durability levels."""
    with pytest.raises(TranscriptStoreError, match="durability='disk'"):
        SQLiteTranscriptStore(tmp_path / "t.db", durability="disk")  # type: ignore[arg-type]


def test_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
    """A path in a missing directory fails with the path in the message."""
    with pytest.raises(TranscriptStoreError, match="missing"):
        SQLiteTranscriptStore(tmp_path / "missing" / "t.db")
