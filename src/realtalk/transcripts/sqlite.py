"""The default transcript store: a SQLite database file (stdlib :mod:`sqlite3`).

Durability: every :meth:`SQLiteTranscriptStore.append` is one ``INSERT`` in autocommit mode,
its own transaction, committed before the call returns. The database runs in WAL mode:

- ``durability="process"`` (default, ``synchronous=NORMAL``): a committed record is in the WAL
  file when ``append`` returns, so killing the process (a crash, ``SIGKILL``) loses nothing
  already appended; a power cut or an OS crash may lose the last few commits (the WAL is
  synced at checkpoints).
- ``durability="power"`` (``synchronous=FULL``): the WAL is synced to the disk at every commit;
  nothing is lost even to a power cut, for an ``fsync`` per record (milliseconds on many disks).

Schema: version 2, in ``PRAGMA user_version`` (``docs/transcripts.md`` shows it). A writing
store that opens a version 1 file (an older realtalk's, whose marks were barge-ins only)
migrates it in place, in one transaction, keeping every row and its id; stores opening it at
the same moment take turns, and only the first migrates. A read-only store reads a version 1
file as it is. A file of a newer version is refused.

Concurrency: WAL lets readers run beside one writer; writers take turns, each waiting up to
``timeout`` seconds for the lock. Several stores (one per conversation, or per process) may
write the same file at once; one store may also be shared by several threads or tasks, its
connection guarded by a lock. Each writing store runs one background thread that copies the
WAL into the database every few dozen appends (SQLite would otherwise do it, with its fsyncs,
inside an append).

From async code: with ``durability="process"`` on a local disk, an append takes tens of
microseconds (``docs/transcripts.md`` gives the measurements), so calling it directly from the
event loop is the choice: it stalls the loop less than a thread hop costs, and the record is
committed before the next event is handled. Under contention a writer may wait for another's
commit (another process writing flat out): use ``durability="power"``, a network file system or
a heavily shared file only through ``await anyio.to_thread.run_sync(store.append, entry)``,
awaited in event order.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Literal

from .._args import check_flag, check_number, check_path
from .records import (
    ConversationSummary,
    Entry,
    InterruptionMark,
    TranscriptRecord,
    TranscriptStoreError,
    verdict_from_dict,
    verdict_to_dict,
)

__all__ = ("SQLiteTranscriptStore", "SCHEMA_VERSION")

logger = logging.getLogger("realtalk.transcripts.sqlite")

SCHEMA_VERSION = 2
"""The schema this store writes: 1 had two kinds of mark, 2 has four (``"reconnected"`` and
``"rolled_over"`` added). A version 1 file is migrated when a writing store opens it."""

# The marks table's columns and constraints, shared by a new file and the migration to v2.
_MARKS_TABLE = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    item_id TEXT,
    kind TEXT NOT NULL
        CHECK (kind IN ('interrupted', 'false_interruption', 'reconnected', 'rolled_over')),
    heard_ms REAL,
    wall_time REAL NOT NULL,
    monotonic REAL,
    detail TEXT NOT NULL DEFAULT ''
)"""
_MARKS_INDEX = "CREATE INDEX marks_by_conversation ON marks (conversation_id, id)"

_SCHEMA = (
    """
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
    )""",
    "CREATE INDEX transcripts_by_conversation ON transcripts (conversation_id, id)",
    "CREATE INDEX transcripts_suspect ON transcripts (dropped, max_score) WHERE role = 'user'",
    _MARKS_TABLE.format(name="marks"),
    _MARKS_INDEX,
)

_MARK_COLUMNS = "id, conversation_id, item_id, kind, heard_ms, wall_time, monotonic, detail"

# SQLite cannot change a CHECK constraint in place: v1 -> v2 builds the widened table beside
# the old one, copies every row with its id, hands it the old table's AUTOINCREMENT counter
# (ids are never reused, even those of rows deleted by hand: an audit may have quoted them),
# then swaps the tables (the rename carries the counter). Run inside the opener's write
# transaction: all or nothing.
_MIGRATE_V1 = (
    _MARKS_TABLE.format(name="marks_v2"),
    f"INSERT INTO marks_v2 ({_MARK_COLUMNS}) SELECT {_MARK_COLUMNS} FROM marks ORDER BY id",
    "DELETE FROM sqlite_sequence WHERE name = 'marks_v2'",
    "INSERT INTO sqlite_sequence (name, seq) "
    "SELECT 'marks_v2', seq FROM sqlite_sequence WHERE name = 'marks'",
    "DROP TABLE marks",
    "ALTER TABLE marks_v2 RENAME TO marks",
    _MARKS_INDEX,
)

# The statements that bring a file from version N to N + 1.
_MIGRATIONS: dict[int, tuple[str, ...]] = {1: _MIGRATE_V1}

# SQLite checkpoints the WAL into the database inside the commit that crosses 1000 pages, an
# fsync or two: milliseconds on the caller's thread, every few dozen records. The store turns
# that off and checkpoints from its own thread instead, after this many appends (an append
# writes about four pages: the row and its indexes), so the WAL stays near 1 MB.
_CHECKPOINT_EVERY = 64
_WAL_RESTART_FRAMES = 4096  # 16 MB of 4 KiB pages

_INSERT_TRANSCRIPT = (
    "INSERT INTO transcripts (conversation_id, item_id, role, text, wall_time, monotonic, "
    "response_id, interrupted, heard_ms, dropped, max_score, verdicts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_MARK = (
    "INSERT INTO marks (conversation_id, item_id, kind, heard_ms, wall_time, monotonic, "
    "detail) VALUES (?, ?, ?, ?, ?, ?, ?)")
_TRANSCRIPT_COLUMNS = ("id, conversation_id, item_id, role, text, wall_time, monotonic, "
                       "response_id, interrupted, heard_ms, dropped, verdicts")

Durability = Literal["process", "power"]


class SQLiteTranscriptStore:
    """Transcripts in a SQLite database file (module docstring: durability, concurrency, and
    how to call it from async code).

    Args:
        path: the database file; created with its schema if missing, migrated to the
            current schema if older (module docstring).
        durability: ``"process"`` (survives a killed process) or ``"power"`` (survives a
            power cut, an ``fsync`` per record).
        timeout: seconds to wait for another writer's lock before failing.
        readonly: open an existing database for reading only (the command line).

    Raises:
        ConfigurationError: ``path`` is not a file path, or ``timeout`` or ``readonly`` is
            of the wrong type or out of range.
        TranscriptStoreError: the file cannot be opened, is not a transcript database, or
            has a newer schema.
    """

    def __init__(self, path: str | Path, *, durability: Durability = "process",
                 timeout: float = 5.0, readonly: bool = False) -> None:
        check_path(path)
        check_number("timeout", timeout, minimum=0.0)
        check_flag("readonly", readonly)
        if durability not in ("process", "power"):
            raise TranscriptStoreError(
                f"durability={durability!r}: expected 'process' or 'power'")
        self.path = Path(path)
        self.durability = durability
        self.readonly = readonly
        self._lock = threading.Lock()
        try:
            if readonly:
                uri = self.path.resolve().as_uri() + "?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, timeout=timeout,
                                             isolation_level=None, check_same_thread=False)
            else:
                self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                             check_same_thread=False)
        except sqlite3.Error as exc:
            raise TranscriptStoreError(f"cannot open {str(self.path)!r}: {exc}") from exc
        self._closed = False
        self._appended = 0
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_due = threading.Event()
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise
        if not readonly:
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name=f"realtalk-transcripts-{self.path.name}",
                daemon=True)
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=1.0, isolation_level=None)
        except sqlite3.Error as exc:
            logger.warning("%s: no background checkpoints (%s); the WAL grows until close",
                           self.path, exc)
            return
        try:
            while True:
                self._checkpoint_due.wait()
                self._checkpoint_due.clear()
                if self._closed:
                    return
                try:
                    # PASSIVE: copy what no reader needs, never wait for or block a writer.
                    # The WAL restarts from its beginning only when a checkpoint caught up
                    # with every frame; under a sustained stream of appends it never does, so
                    # past a bound, RESTART makes writers wait (their busy timeout) until it has.
                    _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if frames > _WAL_RESTART_FRAMES:
                        conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                except sqlite3.Error as exc:
                    logger.debug("%s: checkpoint skipped: %s", self.path, exc)
        finally:
            conn.close()

    def _prepare(self) -> None:
        try:
            if self.readonly:
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                self._check_version(version)
                return
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise TranscriptStoreError(
                    f"{str(self.path)!r}: journal mode {mode!r}, expected 'wal' (a real file)")
            synchronous = "FULL" if self.durability == "power" else "NORMAL"
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")
            # IMMEDIATE: two processes opening a new (or an old) file at once must not both
            # create (or migrate) it: the second waits for the first's commit, then finds
            # the schema current.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    self._run(_SCHEMA)
                    self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                elif version < SCHEMA_VERSION:
                    for step in range(version, SCHEMA_VERSION):
                        self._run(_MIGRATIONS[step])
                    self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    logger.info("%s: transcript schema %d migrated to %d", self.path, version,
                                SCHEMA_VERSION)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # some errors have rolled it back already
                    self._conn.execute("ROLLBACK")
                raise
            self._check_version(version or SCHEMA_VERSION)
        except sqlite3.Error as exc:
            raise TranscriptStoreError(
                f"cannot prepare the transcript database {str(self.path)!r}: {exc}") from exc

    def _run(self, statements: tuple[str, ...]) -> None:
        for statement in statements:
            self._conn.execute(statement)

    def _check_version(self, version: int) -> None:
        if version == 0:
            raise TranscriptStoreError(f"{str(self.path)!r} holds no transcripts (no schema)")
        if version > SCHEMA_VERSION:
            raise TranscriptStoreError(
                f"{str(self.path)!r} has transcript schema {version}; this realtalk reads "
                f"up to {SCHEMA_VERSION}")

    # -- writing -----------------------------------------------------------------------------

    def append(self, entry: Entry) -> None:
        """Store ``entry``, committed before returning.

        Raises:
            TranscriptStoreError: the store is closed or read-only, or the write failed
                (e.g. the database stayed locked for ``timeout`` seconds).
        """
        if isinstance(entry, TranscriptRecord):
            sql: str = _INSERT_TRANSCRIPT
            params: tuple[Any, ...] = (
                entry.conversation_id, entry.item_id, entry.role, entry.text, entry.wall_time,
                entry.at, entry.response_id, int(entry.interrupted), entry.heard_ms,
                int(entry.dropped), entry.max_score,
                json.dumps([verdict_to_dict(v) for v in entry.verdicts], ensure_ascii=False))
        else:
            sql = _INSERT_MARK
            params = (entry.conversation_id, entry.item_id, entry.kind, entry.heard_ms,
                      entry.wall_time, entry.at, entry.detail)
        with self._lock:
            self._check_writable()
            try:
                self._conn.execute(sql, params)
            except sqlite3.Error as exc:
                raise TranscriptStoreError(
                    f"could not store a {type(entry).__name__} in {str(self.path)!r}: "
                    f"{exc}") from exc
            self._appended += 1
            if self._appended % _CHECKPOINT_EVERY == 0:
                self._checkpoint_due.set()

    def _check_writable(self) -> None:
        if self._closed:
            raise TranscriptStoreError(f"the transcript store {str(self.path)!r} is closed")
        if self.readonly:
            raise TranscriptStoreError(
                f"the transcript store {str(self.path)!r} was opened read-only")

    # -- reading -----------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._closed:
                raise TranscriptStoreError(f"the transcript store {str(self.path)!r} is closed")
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise TranscriptStoreError(
                    f"could not read {str(self.path)!r}: {exc}") from exc

    @staticmethod
    def _where(conversation_id: str | None) -> tuple[str, tuple[Any, ...]]:
        if conversation_id is None:
            return "", ()
        return " WHERE conversation_id = ?", (conversation_id,)

    def records(self, conversation_id: str | None = None) -> list[TranscriptRecord]:
        """Every transcript record (of one conversation), in the order appended."""
        where, params = self._where(conversation_id)
        rows = self._query(f"SELECT {_TRANSCRIPT_COLUMNS} FROM transcripts{where} ORDER BY id",
                           params)
        return [self._record(row) for row in rows]

    def marks(self, conversation_id: str | None = None) -> list[InterruptionMark]:
        """Every mark (of one conversation), in the order appended."""
        where, params = self._where(conversation_id)
        rows = self._query(f"SELECT {_MARK_COLUMNS} FROM marks{where} ORDER BY id", params)
        return [InterruptionMark(id=row[0], conversation_id=row[1], item_id=row[2],
                                 kind=row[3], heard_ms=row[4], wall_time=row[5], at=row[6],
                                 detail=row[7]) for row in rows]

    def entries(self, conversation_id: str | None = None) -> list[Entry]:
        """Records and marks (of one conversation), merged by the time they were recorded
        (two tables: the wall clock orders them, records first on a tie)."""
        merged: list[tuple[float, int, int, Entry]] = [
            (r.wall_time, 0, r.id or 0, r) for r in self.records(conversation_id)]
        merged += [(m.wall_time, 1, m.id or 0, m) for m in self.marks(conversation_id)]
        merged.sort(key=lambda t: t[:3])
        return [entry for *_, entry in merged]

    def conversations(self) -> list[ConversationSummary]:
        """One summary per conversation, in order of first appearance."""
        rows = self._query(
            """
            SELECT conversation_id, MIN(first), MAX(last), SUM(users), SUM(assistants),
                   SUM(dropped), SUM(interruptions), SUM(false_interruptions),
                   SUM(reconnects), SUM(rollovers)
            FROM (
                SELECT conversation_id, MIN(wall_time) AS first, MAX(wall_time) AS last,
                       SUM(role = 'user') AS users, SUM(role = 'assistant') AS assistants,
                       SUM(dropped) AS dropped, 0 AS interruptions, 0 AS false_interruptions,
                       0 AS reconnects, 0 AS rollovers
                FROM transcripts GROUP BY conversation_id
                UNION ALL
                SELECT conversation_id, MIN(wall_time), MAX(wall_time), 0, 0, 0,
                       SUM(kind = 'interrupted'), SUM(kind = 'false_interruption'),
                       SUM(kind = 'reconnected'), SUM(kind = 'rolled_over')
                FROM marks GROUP BY conversation_id
            ) GROUP BY conversation_id ORDER BY MIN(first), conversation_id
            """, ())
        return [ConversationSummary(
            conversation_id=row[0], first_wall_time=row[1], last_wall_time=row[2],
            user_transcripts=row[3], assistant_transcripts=row[4], dropped=row[5],
            interruptions=row[6], false_interruptions=row[7], reconnects=row[8],
            rollovers=row[9]) for row in rows]

    @staticmethod
    def _record(row: tuple[Any, ...]) -> TranscriptRecord:
        try:
            verdicts = tuple(verdict_from_dict(v) for v in json.loads(row[11]))
        except (json.JSONDecodeError, TypeError) as exc:
            raise TranscriptStoreError(
                f"transcript row {row[0]}: malformed verdicts {row[11]!r}") from exc
        return TranscriptRecord(
            id=row[0], conversation_id=row[1], item_id=row[2], role=row[3], text=row[4],
            wall_time=row[5], at=row[6], response_id=row[7], interrupted=bool(row[8]),
            heard_ms=row[9], dropped=bool(row[10]), verdicts=verdicts)

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._checkpointer is not None:
            self._checkpoint_due.set()
            self._checkpointer.join()
        with self._lock:
            # The last connection to close checkpoints the whole WAL and removes it.
            self._conn.close()

    def __enter__(self) -> SQLiteTranscriptStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteTranscriptStore({str(self.path)!r}, durability={self.durability!r})"
