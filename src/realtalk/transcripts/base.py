"""The :class:`TranscriptStore` protocol, and :func:`open_store`, which picks a store for a
path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .._args import check_path
from .records import ConversationSummary, Entry, TranscriptRecord, TranscriptStoreError

if TYPE_CHECKING:
    from .jsonl import JSONLTranscriptStore
    from .sqlite import SQLiteTranscriptStore

__all__ = ("TranscriptStore", "open_store")

_SQLITE_MAGIC = b"SQLite format 3\x00"
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


class TranscriptStore(Protocol):
    """Where transcripts are kept, so that echo can be audited.

    ``append`` is synchronous and returns once the entry is durable to the store's policy
    (see each store), so that a crash loses nothing already appended. Reads return entries
    in the order they were appended (per conversation), each with its ``id``.
    """

    def append(self, entry: Entry) -> None:
        """Store one record or mark.

        Raises:
            TranscriptStoreError: it could not be written (the store is closed, the file is
                not writable, the database stayed locked past the timeout).
        """
        ...

    def entries(self, conversation_id: str | None = None) -> list[Entry]:
        """Every record and mark (of one conversation), in the order appended."""
        ...

    def records(self, conversation_id: str | None = None) -> list[TranscriptRecord]:
        """Every transcript record (of one conversation), in the order appended."""
        ...

    def conversations(self) -> list[ConversationSummary]:
        """One summary per conversation, in order of first appearance."""
        ...

    def close(self) -> None:
        """Release the file; appending afterwards raises."""
        ...


def open_store(path: str | Path, *, readonly: bool = False
               ) -> SQLiteTranscriptStore | JSONLTranscriptStore:
    """A store for ``path``: JSONL for ``.jsonl``/``.ndjson``/``.json`` files, else SQLite (an
    existing file must then be a SQLite database).

    Both stores are context managers that close on exit.

    Raises:
        ConfigurationError: ``path`` is not a file path (a non-empty str or os.PathLike).
        TranscriptStoreError: ``readonly`` and the file does not exist, or the file is
            neither kind.
    """
    from .jsonl import JSONLTranscriptStore
    from .sqlite import SQLiteTranscriptStore

    check_path(path)
    path = Path(path)
    if readonly and not path.exists():
        raise TranscriptStoreError(f"no transcript store at {str(path)!r}")
    if path.suffix.lower() in _JSONL_SUFFIXES:
        return JSONLTranscriptStore(path, readonly=readonly)
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
        if head != _SQLITE_MAGIC:
            raise TranscriptStoreError(
                f"{str(path)!r} is neither a SQLite database nor a .jsonl file")
    return SQLiteTranscriptStore(path, readonly=readonly)
