"""The TranscriptStore contract, on both stores: round trips, concurrent writers (threads and
processes) on a real file, and no loss of a committed record when a writer is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from realtalk.echo.transcript import TranscriptVerdict
from realtalk.transcripts import (
    Entry,
    InterruptionMark,
    JSONLTranscriptStore,
    SQLiteTranscriptStore,
    TranscriptRecord,
    TranscriptStore,
    TranscriptStoreError,
    open_store,
)
from realtalk.transcripts.records import MARK_KINDS

VERDICTS = (
    TranscriptVerdict(filter="timing", drop=True, reason="onset during playback — «echo»",
                      score=0.93, matched="the forecast for saturday"),
    TranscriptVerdict(filter="similarity", drop=False, reason="not the assistant's words",
                      score=0.41, matched=None),
)

# A writer process: opens the store at argv[1] (SQLite, or JSONL for .jsonl), says "ready",
# waits for a line on stdin, appends argv[3] records tagged argv[2] in order, says
# "written N", then waits for stdin to close (so that a test can kill it once it wrote).
WRITER = """
import sys, time
from realtalk.transcripts import open_store, TranscriptRecord
store = open_store(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[3])):
    store.append(TranscriptRecord(conversation_id=sys.argv[2], item_id=f"item_{i}",
                                  role="user", text=f"{sys.argv[2]} says {i}",
                                  wall_time=time.time(), at=float(i)))
print(f"written {sys.argv[3]}", flush=True)
sys.stdin.read()
"""

SUFFIXES = {"sqlite": ".db", "jsonl": ".jsonl"}


def user_record(i: int = 0, *, conversation_id: str = "conv",
                dropped: bool = False) -> TranscriptRecord:
    return TranscriptRecord(conversation_id=conversation_id, item_id=f"u{i}", role="user",
                            text=f"the forecast for saturday — {i} «ok»",
                            wall_time=1_700_000_000.0 + i, at=100.0 + i, dropped=dropped,
                            verdicts=VERDICTS)


def assistant_record(i: int = 0, *, conversation_id: str = "conv") -> TranscriptRecord:
    return TranscriptRecord(conversation_id=conversation_id, item_id=f"a{i}", role="assistant",
                            text="The forecast for Saturday is sunny.",
                            wall_time=1_700_000_000.0 + i, at=100.0 + i, response_id=f"r{i}",
                            interrupted=True, heard_ms=1234.5)


def mark(i: int = 0, *, conversation_id: str = "conv") -> InterruptionMark:
    return InterruptionMark(conversation_id=conversation_id, item_id=f"a{i}",
                            kind="interrupted", heard_ms=1234.5,
                            wall_time=1_700_000_000.5 + i, at=100.5 + i, detail="source=local")


@pytest.fixture(params=["sqlite", "jsonl"])
def store_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A fresh store file of each kind."""
    return tmp_path / f"transcripts{SUFFIXES[request.param]}"


@pytest.fixture
def writers() -> Iterator[list[subprocess.Popen[str]]]:
    """Writer processes started by the test; any left running are killed after it."""
    procs: list[subprocess.Popen[str]] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None and not stream.closed:
                    stream.close()


def _start_writer(procs: list[subprocess.Popen[str]], path: Path, tag: str,
                  count: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, str(count)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _say(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def _hear(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def _finish(proc: subprocess.Popen[str]) -> int:
    assert proc.stdin is not None
    proc.stdin.close()
    return proc.wait(timeout=60)


def test_round_trip_keeps_every_field(store_path: Path) -> None:
    """Records and marks come back as written, numbered, in order, unicode intact."""
    written: list[Entry] = [assistant_record(0), mark(0), user_record(1, dropped=True),
                            user_record(2)]
    with open_store(store_path) as store:
        for entry in written:
            store.append(entry)
        entries = store.entries()
    assert [e.id is not None for e in entries] == [True] * 4
    assert [attr_without_id(e) for e in entries] == [attr_without_id(e) for e in written]
    records = _read(store_path)
    assert [r.role for r in records] == ["assistant", "user", "user"]
    assert records[1].dropped
    assert records[1].verdicts == VERDICTS
    assert records[1].max_score == pytest.approx(0.93)


def attr_without_id(entry: Entry) -> object:
    return attrs.evolve(entry, id=None)


def _read(path: Path) -> list[TranscriptRecord]:
    with open_store(path, readonly=True) as store:
        return store.records()


def test_records_filter_by_conversation_and_summaries_count(store_path: Path) -> None:
    """Per-conversation reads, and one summary per conversation in order of appearance."""
    with open_store(store_path) as store:
        store.append(assistant_record(0, conversation_id="b"))
        store.append(user_record(1, conversation_id="a", dropped=True))
        store.append(mark(2, conversation_id="b"))
        store.append(user_record(3, conversation_id="b"))
        assert [r.item_id for r in store.records("b")] == ["a0", "u3"]
        assert [e.conversation_id for e in store.entries("a")] == ["a"]
        summaries = store.conversations()
    assert [s.conversation_id for s in summaries] == ["b", "a"]
    b, a = summaries
    assert (b.user_transcripts, b.assistant_transcripts, b.dropped, b.interruptions) == \
        (1, 1, 0, 1)
    assert (a.user_transcripts, a.dropped) == (1, 1)
    assert b.first_wall_time == assistant_record(0).wall_time
    assert b.last_wall_time == user_record(3).wall_time


def test_every_mark_kind_round_trips_and_is_counted(store_path: Path) -> None:
    """Barge-ins, false barge-ins, reconnects and rollovers: each kind is stored, read back
    as written and counted in the conversation's summary."""
    written = [InterruptionMark(conversation_id="conv", item_id="a1" if n < 3 else None,
                                kind=kind, heard_ms=None if n == 3 else 100.0 * n,
                                wall_time=1_700_000_000.0 + n, at=10.0 + n,
                                detail=f"k=v{n} other=«{n}»")
               for n, kind in enumerate(MARK_KINDS)]
    with open_store(store_path) as store:
        for entry in written:
            store.append(entry)
        entries = store.entries()
        (summary,) = store.conversations()
    assert [attr_without_id(e) for e in entries] == written
    assert [e.kind for e in entries if isinstance(e, InterruptionMark)] == \
        ["interrupted", "false_interruption", "reconnected", "rolled_over"]
    assert (summary.interruptions, summary.false_interruptions, summary.reconnects,
            summary.rollovers) == (1, 1, 1, 1)
    assert (summary.user_transcripts, summary.assistant_transcripts) == (0, 0)


def test_closed_store_refuses_to_append(store_path: Path) -> None:
    """Appending after close is an error naming the file."""
    store = open_store(store_path)
    store.close()
    store.close()  # idempotent
    with pytest.raises(TranscriptStoreError, match="closed"):
        store.append(user_record())


def test_readonly_store_refuses_to_append_and_needs_a_file(store_path: Path) -> None:
    """A read-only store cannot append; opening a missing file read-only is an error."""
    with pytest.raises(TranscriptStoreError, match="no transcript store"):
        open_store(store_path, readonly=True)
    open_store(store_path).close()
    store = open_store(store_path, readonly=True)
    with pytest.raises(TranscriptStoreError):
        store.append(user_record())
    store.close()


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-thread"])
def test_concurrent_threads_lose_nothing(store_path: Path, shared: bool) -> None:
    """Eight threads append 150 records each, through one store or one each: all arrive, each
    thread's in its order."""
    stores: list[TranscriptStore] = [open_store(store_path)]
    if not shared:
        stores += [open_store(store_path) for _ in range(7)]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        store = stores[0] if shared else stores[n]
        barrier.wait()
        try:
            for i in range(150):
                store.append(user_record(i, conversation_id=f"t{n}"))
        except BaseException as exc:  # reported below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for store in stores:
        store.close()
    assert errors == []
    records = _read(store_path)
    assert len(records) == 8 * 150
    for n in range(8):
        mine = [r.item_id for r in records if r.conversation_id == f"t{n}"]
        assert mine == [f"u{i}" for i in range(150)]


def test_two_processes_write_one_file(store_path: Path,
                                      writers: list[subprocess.Popen[str]]) -> None:
    """Two processes open a new file at once (racing to create it) and append 300 records
    each, at the same time: 600 arrive, each process's in order."""
    a = _start_writer(writers, store_path, "proc_a", 300)
    b = _start_writer(writers, store_path, "proc_b", 300)
    _say(a, "go")
    _say(b, "go")
    assert _hear(a) == "written 300"
    assert _hear(b) == "written 300"
    assert _finish(a) == 0
    assert _finish(b) == 0
    records = _read(store_path)
    assert len(records) == 600
    for tag in ("proc_a", "proc_b"):
        mine = [r.text for r in records if r.conversation_id == tag]
        assert mine == [f"{tag} says {i}" for i in range(300)]


def test_killed_writer_loses_no_committed_record(store_path: Path,
                                                 writers: list[subprocess.Popen[str]]) -> None:
    """A writer killed with SIGKILL right after appending: every record it appended is
    there (SQLite: the last ones only in the WAL, never checkpointed; JSONL: every line
    whole)."""
    proc = _start_writer(writers, store_path, "victim", 250)
    _say(proc, "go")
    assert _hear(proc) == "written 250"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    records = _read(store_path)
    assert [r.text for r in records] == [f"victim says {i}" for i in range(250)]
    # And the file is still good for writing afterwards.
    with open_store(store_path) as store:
        store.append(user_record(999, conversation_id="after"))
    assert len(_read(store_path)) == 251


def test_open_store_picks_by_suffix_and_content(tmp_path: Path) -> None:
    """.jsonl is JSONL, anything else SQLite; a file that is neither is refused."""
    with open_store(tmp_path / "x.jsonl") as jsonl, open_store(tmp_path / "x.db") as sqlite:
        assert isinstance(jsonl, JSONLTranscriptStore)
        assert isinstance(sqlite, SQLiteTranscriptStore)
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello\n")
    with pytest.raises(TranscriptStoreError, match="neither"):
        open_store(bogus)
