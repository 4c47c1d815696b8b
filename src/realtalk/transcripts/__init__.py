"""Transcripts kept, so that echo can be audited.

- :class:`TranscriptStore`: the protocol; :class:`SQLiteTranscriptStore` (the default, a
  SQLite file in WAL mode, safe for concurrent conversations and processes) and
  :class:`JSONLTranscriptStore` (one JSON object per line); :func:`open_store` picks one.
- :class:`TranscriptRecorder`: conversation events in, records out, each committed as it
  arrives.
- :func:`suspected_echoes`: the user transcripts that may be the assistant's own voice.

``realtalk transcripts PATH [--echo]`` lists them from the command line.
"""

from .audit import SuspectedEcho, suspected_echoes
from .base import TranscriptStore, open_store
from .jsonl import JSONLTranscriptStore
from .recorder import TranscriptRecorder
from .records import (
    ConversationSummary,
    Entry,
    InterruptionMark,
    MarkKind,
    Role,
    TranscriptRecord,
    TranscriptStoreError,
    entry_from_dict,
    entry_to_dict,
)
from .sqlite import SQLiteTranscriptStore

__all__ = (
    "TranscriptStore",
    "SQLiteTranscriptStore",
    "JSONLTranscriptStore",
    "open_store",
    "TranscriptRecorder",
    "TranscriptRecord",
    "InterruptionMark",
    "Entry",
    "Role",
    "MarkKind",
    "ConversationSummary",
    "TranscriptStoreError",
    "entry_to_dict",
    "entry_from_dict",
    "SuspectedEcho",
    "suspected_echoes",
)
