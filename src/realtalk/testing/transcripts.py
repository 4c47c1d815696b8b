""":class:`MemoryTranscriptStore`: a transcript store in a list, which can be told to fail."""

from __future__ import annotations

import attrs

from .._args import check_number, check_type
from ..transcripts import ConversationSummary, Entry, TranscriptRecord, TranscriptStoreError
from ..transcripts.records import summarize

__all__ = ("MemoryTranscriptStore",)


class MemoryTranscriptStore:
    """A :class:`~realtalk.transcripts.TranscriptStore` that keeps its entries in memory.

    Entries read back carry their ``id`` (1, 2, ... in the order appended), as from the file
    stores. :meth:`fail` makes appends raise :class:`~realtalk.transcripts.TranscriptStoreError`,
    as a locked database or a full disk would; the entries refused are kept in :attr:`refused`.
    """

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._failures: int | None = 0  # appends still to refuse; None: every one
        self._failure_message = ""
        self.refused: list[Entry] = []
        """Every entry whose append raised, in order."""
        self.closed = False

    def __repr__(self) -> str:
        return f"MemoryTranscriptStore({len(self._entries)} entries)"

    def fail(self, times: int | None = None, *, message: str = "the store is failing") -> None:
        """Make the next ``times`` appends raise (``None``: every append until
        :meth:`recover`), with ``message``.

        Raises:
            ConfigurationError: ``times`` is not ``None`` or an integer >= 1.
        """
        check_number("times", times, integer=True, minimum=1, optional=True)
        check_type("message", message, str, "a string")
        self._failures = times
        self._failure_message = message

    def recover(self) -> None:
        """Appends succeed again."""
        self._failures = 0

    def append(self, entry: Entry) -> None:
        """Keep ``entry``.

        Raises:
            TranscriptStoreError: the store is closed, or told to fail.
        """
        if self.closed:
            raise TranscriptStoreError("the in-memory transcript store is closed")
        if self._failures is None or self._failures > 0:
            if self._failures is not None:
                self._failures -= 1
            self.refused.append(entry)
            raise TranscriptStoreError(self._failure_message)
        self._entries.append(attrs.evolve(entry, id=len(self._entries) + 1))

    def entries(self, conversation_id: str | None = None) -> list[Entry]:
        """Every record and mark (of one conversation), in the order appended."""
        return [e for e in self._entries
                if conversation_id is None or e.conversation_id == conversation_id]

    def records(self, conversation_id: str | None = None) -> list[TranscriptRecord]:
        """Every transcript record (of one conversation), in the order appended."""
        return [e for e in self.entries(conversation_id) if isinstance(e, TranscriptRecord)]

    def conversations(self) -> list[ConversationSummary]:
        """One summary per conversation, in order of first appearance."""
        return summarize(self._entries)

    def close(self) -> None:
        """Refuse appends from now on (idempotent); what was kept can still be read."""
        self.closed = True

    def __enter__(self) -> MemoryTranscriptStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
