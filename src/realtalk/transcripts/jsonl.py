"""A transcript store in a JSON Lines file: one JSON object per line, appended.

Durability: each :meth:`JSONLTranscriptStore.append` writes its whole line with one
``write()`` on a file descriptor opened ``O_APPEND``, with no buffer in the process: when it
returns, the line is in the operating system's hands, so killing the process loses nothing
already appended. ``fsync=True`` also syncs the file to the disk after each line (survives a
power cut; an ``fsync`` per record costs milliseconds on many disks); by default the OS writes
it back on its own schedule.

Concurrency: ``O_APPEND`` makes each write land at the end of the file as one piece, so
several stores (threads, conversations, processes) may append to one local file without
interleaving lines; one store shared by threads serialises its writes with a lock. A reader
that meets a last line without its newline (a write in progress, or one cut by a power loss)
leaves it out.

From async code: an append is one system call (``docs/transcripts.md`` gives the timings);
call it directly, or through ``anyio.to_thread.run_sync`` with ``fsync=True``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from .._args import check_flag, check_path
from .records import (
    ConversationSummary,
    Entry,
    TranscriptRecord,
    TranscriptStoreError,
    entry_from_dict,
    entry_to_dict,
    summarize,
)

__all__ = ("JSONLTranscriptStore",)

logger = logging.getLogger("realtalk.transcripts.jsonl")


class JSONLTranscriptStore:
    """Transcripts appended to a JSON Lines file (module docstring: durability, concurrency).

    Each line is one object from :func:`~realtalk.transcripts.entry_to_dict`; its ``id`` when
    read back is its line number (from 1).

    Args:
        path: the file; created if missing.
        fsync: sync the file to the disk after every line.
        readonly: only read (the command line): the file is not created or opened for writing.

    Raises:
        ConfigurationError: ``path`` is not a file path, or a flag is not a bool.
        TranscriptStoreError: the file cannot be opened for appending.
    """

    def __init__(self, path: str | Path, *, fsync: bool = False, readonly: bool = False) -> None:
        check_path(path)
        check_flag("fsync", fsync)
        check_flag("readonly", readonly)
        self.path = Path(path)
        self.fsync = fsync
        self.readonly = readonly
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._closed = False
        if not readonly:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise TranscriptStoreError(
                    f"cannot open {str(self.path)!r} for appending: {exc}") from exc

    def append(self, entry: Entry) -> None:
        """Append ``entry`` as one line, written (and with ``fsync``, synced) on return.

        Raises:
            TranscriptStoreError: the store is closed or read-only, or the write failed.
        """
        line = (json.dumps(entry_to_dict(entry), ensure_ascii=False, allow_nan=False)
                + "\n").encode("utf-8")
        with self._lock:
            if self._closed or self._fd is None:
                state = "closed" if self._closed else "read-only"
                raise TranscriptStoreError(f"the transcript store {str(self.path)!r} is {state}")
            try:
                written = os.write(self._fd, line)
                if written != len(line):
                    # A regular file takes a whole write unless the disk is full; writing the
                    # rest separately could interleave with another writer, so report it.
                    raise OSError(f"short write: {written} of {len(line)} bytes")
                if self.fsync:
                    os.fsync(self._fd)
            except OSError as exc:
                raise TranscriptStoreError(
                    f"could not append to {str(self.path)!r}: {exc}") from exc

    def entries(self, conversation_id: str | None = None) -> list[Entry]:
        """Every record and mark (of one conversation), in file order.

        Raises:
            TranscriptStoreError: the file cannot be read, or a complete line is not a valid
                entry (its line number is in the message).
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise TranscriptStoreError(f"cannot read {str(self.path)!r}: {exc}") from exc
        lines = data.split(b"\n")
        if lines[-1]:
            logger.warning("%s: last line has no newline (a write in progress or cut short); "
                           "left out", self.path)
        out: list[Entry] = []
        for number, raw in enumerate(lines[:-1], start=1):
            if not raw.strip():
                continue
            try:
                obj: Any = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise TranscriptStoreError(
                    f"{str(self.path)!r} line {number}: not JSON ({exc})") from exc
            if not isinstance(obj, dict):
                raise TranscriptStoreError(
                    f"{str(self.path)!r} line {number}: expected a JSON object, got {obj!r}")
            try:
                entry = entry_from_dict(obj, id=number)
            except TranscriptStoreError as exc:
                raise TranscriptStoreError(f"{str(self.path)!r} line {number}: {exc}") from exc
            if conversation_id is None or entry.conversation_id == conversation_id:
                out.append(entry)
        return out

    def records(self, conversation_id: str | None = None) -> list[TranscriptRecord]:
        """Every transcript record (of one conversation), in file order."""
        return [e for e in self.entries(conversation_id) if isinstance(e, TranscriptRecord)]

    def conversations(self) -> list[ConversationSummary]:
        """One summary per conversation, in order of first appearance."""
        return summarize(self.entries())

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None

    def __enter__(self) -> JSONLTranscriptStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JSONLTranscriptStore({str(self.path)!r}, fsync={self.fsync})"
