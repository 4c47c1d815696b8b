"""The SQLite store: WAL on a real file, schema checks and the migration from version 1,
readers beside a writer."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import pytest

from realtalk.transcripts import (
    InterruptionMark,
    SQLiteTranscriptStore,
    TranscriptRecord,
    TranscriptStoreError,
)
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
    with pytest.raises(TranscriptStoreError,
                       match=f"schema {SCHEMA_VERSION + 1}; this realtalk reads up to "
                             f"{SCHEMA_VERSION}"):
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


# -- version 1 files ---------------------------------------------------------------------------

# The schema of version 1 as that release wrote it (its marks were barge-ins only).
V1_SCHEMA = """
CREATE TABLE transcripts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    item_id TEXT,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    wall_time REAL NOT NULL,
    monotonic REAL,
    response_id TEXT,
    interrupted INTEGER NOT NULL DEFAULT 0,
    heard_ms REAL,
    dropped INTEGER NOT NULL DEFAULT 0,
    max_score REAL NOT NULL DEFAULT 0,
    verdicts TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX transcripts_by_conversation ON transcripts (conversation_id, id);
CREATE INDEX transcripts_suspect ON transcripts (dropped, max_score) WHERE role = 'user';
CREATE TABLE marks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    item_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('interrupted', 'false_interruption')),
    heard_ms REAL,
    wall_time REAL NOT NULL,
    monotonic REAL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX marks_by_conversation ON marks (conversation_id, id);
PRAGMA user_version = 1;
"""

VERDICTS_JSON = ('[{"filter": "timing", "drop": true, "reason": "onset during playback", '
                 '"score": 0.92, "matched": "the forecast"}]')


def _v1_file(path: Path, *, deleted_marks: int = 0, bad_kind: bool = False) -> None:
    """A version 1 database as an older realtalk left it: two conversations, transcripts and
    both kinds of mark, in WAL mode. ``deleted_marks``: that many more marks appended, then
    deleted by hand (their ids must not come back). ``bad_kind``: a mark of a kind version 2
    does not know either, slipped past the CHECK."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(V1_SCHEMA)
        for cid, base in (("alpha", 0.0), ("beta", 100.0)):
            conn.execute(
                "INSERT INTO transcripts (conversation_id, item_id, role, text, wall_time, "
                "monotonic, response_id, interrupted, heard_ms) VALUES (?, 'a1', 'assistant', "
                "'The forecast is sunny.', ?, ?, 'r1', 1, 1500.0)",
                (cid, 1_700_000_000.0 + base, base))
            conn.execute(
                "INSERT INTO marks (conversation_id, item_id, kind, heard_ms, wall_time, "
                "monotonic, detail) VALUES (?, 'a1', 'interrupted', 1500.0, ?, ?, "
                "'source=local')", (cid, 1_700_000_001.0 + base, base + 1))
            conn.execute(
                "INSERT INTO transcripts (conversation_id, item_id, role, text, wall_time, "
                "monotonic, dropped, max_score, verdicts) VALUES (?, 'u1', 'user', "
                "'the forecast', ?, ?, 1, 0.92, ?)",
                (cid, 1_700_000_002.0 + base, base + 2, VERDICTS_JSON))
            conn.execute(
                "INSERT INTO marks (conversation_id, item_id, kind, heard_ms, wall_time, "
                "monotonic, detail) VALUES (?, 'a1', 'false_interruption', NULL, ?, NULL, "
                "'resumed=True')", (cid, 1_700_000_003.0 + base))
        for n in range(deleted_marks):
            conn.execute("INSERT INTO marks (conversation_id, kind, wall_time) "
                         "VALUES ('gone', 'interrupted', ?)", (1_700_000_500.0 + n,))
        conn.execute("DELETE FROM marks WHERE conversation_id = 'gone'")
        if bad_kind:
            conn.execute("PRAGMA ignore_check_constraints = ON")
            conn.execute("INSERT INTO marks (conversation_id, kind, wall_time) "
                         "VALUES ('beta', 'applause', 1700000200.0)")
    finally:
        conn.close()


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of both tables, as SQLite holds them."""
    conn = sqlite3.connect(path)
    try:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
                for table in ("transcripts", "marks")}
    finally:
        conn.close()


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        return version
    finally:
        conn.close()


def _reconnect_mark(cid: str, wall_time: float) -> InterruptionMark:
    return InterruptionMark(conversation_id=cid, item_id=None, kind="reconnected",
                            heard_ms=None, wall_time=wall_time, at=50.0,
                            detail="attempts=1 downtime_ms=212 items_restored=3 "
                                   "audio_dropped_ms=0")


def test_a_version_1_file_is_migrated_keeping_every_row_and_id(tmp_path: Path) -> None:
    """A writing store opens a version 1 file: version 2 from then on, every row and id as
    it was, the new kinds accepted, and ids of marks deleted before the migration never
    handed out again; reopened, the file reads the same and is not migrated twice."""
    path = tmp_path / "old.db"
    _v1_file(path, deleted_marks=3)
    before = _dump(path)
    with SQLiteTranscriptStore(path, readonly=True) as reader:
        read_before = reader.entries()
    with SQLiteTranscriptStore(path) as store:
        assert _dump(path) == before
        assert store.entries() == read_before
        store.append(_reconnect_mark("alpha", 1_700_000_004.0))
        appended = store.marks("alpha")[-1]
    assert _version(path) == SCHEMA_VERSION == 2
    assert appended.id == 4 + 3 + 1  # after the four kept marks and the three deleted
    with SQLiteTranscriptStore(path) as store:
        entries = store.entries()
        (alpha, beta) = store.conversations()
    assert attrs.evolve(appended, id=None) == _reconnect_mark("alpha", 1_700_000_004.0)
    assert entries == [*read_before[:4], appended, *read_before[4:]]  # alpha's, then beta's
    assert (alpha.interruptions, alpha.false_interruptions, alpha.reconnects) == (1, 1, 1)
    assert (beta.interruptions, beta.false_interruptions, beta.reconnects) == (1, 1, 0)
    migrated = _dump(path)
    assert migrated["transcripts"] == before["transcripts"]
    assert migrated["marks"][:-1] == before["marks"]
    conn = sqlite3.connect(path)
    try:
        indexes = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'marks'")}
        assert "marks_by_conversation" in indexes
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("INSERT INTO marks (conversation_id, kind, wall_time) "
                         "VALUES ('c', 'applause', 0)")
    finally:
        conn.close()


def test_a_read_only_store_reads_a_version_1_file_as_it_is(tmp_path: Path) -> None:
    """Reading needs no migration, and a reader does not write: the file stays version 1."""
    path = tmp_path / "old.db"
    _v1_file(path)
    with SQLiteTranscriptStore(path, readonly=True) as reader:
        entries = reader.entries()
        summaries = reader.conversations()
    assert _version(path) == 1
    assert [type(e).__name__ for e in entries[:4]] == [
        "TranscriptRecord", "InterruptionMark", "TranscriptRecord", "InterruptionMark"]
    assert [(s.conversation_id, s.interruptions, s.reconnects, s.rollovers)
            for s in summaries] == [("alpha", 1, 0, 0), ("beta", 1, 0, 0)]


def test_a_failed_migration_leaves_the_version_1_file_untouched(tmp_path: Path) -> None:
    """A row the new table refuses fails the open, naming the file, and rolls everything
    back: the file is still version 1, with every row."""
    path = tmp_path / "odd.db"
    _v1_file(path, bad_kind=True)
    before = _dump(path)
    with pytest.raises(TranscriptStoreError, match=r"odd\.db.*CHECK constraint"):
        SQLiteTranscriptStore(path)
    assert _version(path) == 1
    assert _dump(path) == before


def test_stores_racing_to_migrate_one_file_take_turns(tmp_path: Path) -> None:
    """Several stores open one version 1 file at the same moment (threads, each its own
    connection, as processes would): each opens, one migrates, none sees the file half
    done, the rows are neither lost nor doubled, and all of them can then write."""
    for round_ in range(6):
        path = tmp_path / f"race{round_}.db"
        _v1_file(path)
        before = _dump(path)
        barrier = threading.Barrier(4)

        def open_and_write(n: int, path: Path = path,
                           barrier: threading.Barrier = barrier) -> SQLiteTranscriptStore:
            barrier.wait(timeout=30)
            store = SQLiteTranscriptStore(path)
            store.append(_reconnect_mark(f"writer{n}", 1_700_001_000.0 + n))
            return store

        # One thread per opener (the pool starts one per task while none is idle); map
        # raises here what an opener raised.
        with ThreadPoolExecutor(max_workers=4) as pool:
            for store in list(pool.map(open_and_write, range(4))):
                store.close()
        assert _version(path) == SCHEMA_VERSION
        after = _dump(path)
        assert after["transcripts"] == before["transcripts"]
        assert after["marks"][:len(before["marks"])] == before["marks"]
        assert sorted(str(row[1]) for row in after["marks"][len(before["marks"]):]) == \
            [f"writer{n}" for n in range(4)]
