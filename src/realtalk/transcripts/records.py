"""What a transcript store keeps: one :class:`TranscriptRecord` per user or assistant
transcript, one :class:`InterruptionMark` per moment the conversation's course changed
between them (a barge-in, a barge-in judged false, a lost connection restored, a rollover to a
fresh session), and their plain-JSON form, shared by the stores and the command line."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, TypeAlias

import attrs

from ..echo.transcript import TranscriptVerdict
from ..errors import RealtalkError

__all__ = (
    "Role",
    "MarkKind",
    "TranscriptRecord",
    "InterruptionMark",
    "Entry",
    "ConversationSummary",
    "TranscriptStoreError",
    "entry_to_dict",
    "entry_from_dict",
    "verdict_to_dict",
    "verdict_from_dict",
)

Role: TypeAlias = Literal["user", "assistant"]
MarkKind: TypeAlias = Literal["interrupted", "false_interruption", "reconnected", "rolled_over"]

ROLES: tuple[Role, ...] = ("user", "assistant")
MARK_KINDS: tuple[MarkKind, ...] = ("interrupted", "false_interruption", "reconnected",
                                    "rolled_over")


class TranscriptStoreError(RealtalkError):
    """A transcript store could not be written or read (a locked or corrupt database, a
    malformed JSONL line, a file that cannot be opened)."""


def _verdicts(verdicts: Iterable[TranscriptVerdict]) -> tuple[TranscriptVerdict, ...]:
    return tuple(verdicts)


@attrs.frozen(kw_only=True)
class TranscriptRecord:
    """One transcript as stored.

    Attributes:
        conversation_id: which conversation it belongs to.
        item_id: the conversation item it transcribes (``None`` if the server gave none).
        role: ``"user"`` or ``"assistant"``.
        text: the transcript.
        wall_time: when it was recorded, Unix seconds (UTC).
        at: when the conversation received it, on the conversation's monotonic clock (only
            comparable within one conversation).
        response_id: the assistant response it belongs to.
        interrupted: (assistant) the user cut it short.
        heard_ms: (assistant, interrupted) how much of its audio was played.
        dropped: (user) the echo filters judged it the assistant's own voice and dropped it.
        verdicts: (user) every echo filter's verdict, kept ones included.
        id: the store's sequence number, set when read back (``None`` before).
    """

    conversation_id: str
    item_id: str | None
    role: Role = attrs.field(validator=attrs.validators.in_(ROLES))
    text: str
    wall_time: float
    at: float | None = None
    response_id: str | None = None
    interrupted: bool = False
    heard_ms: float | None = None
    dropped: bool = False
    verdicts: tuple[TranscriptVerdict, ...] = attrs.field(default=(), converter=_verdicts)
    id: int | None = None

    @property
    def max_score(self) -> float:
        """The highest echo score any filter gave it (0 without verdicts)."""
        return max((v.score for v in self.verdicts), default=0.0)


@attrs.frozen(kw_only=True)
class InterruptionMark:
    """A mark between the transcripts: a moment the conversation's course changed. (The name
    is older than the marks that are not barge-ins; it covers them all.)

    ``kind`` says which:

    - ``"interrupted"``: the user barged in on the assistant;
    - ``"false_interruption"``: a barge-in later judged false (no user words followed it: a
      noise, or the assistant's own echo, taken for the user);
    - ``"reconnected"``: the connection was lost and a new one restored the conversation
      (:class:`~realtalk.Reconnected`); the mark stands where the conversation went on, at
      the restore;
    - ``"rolled_over"``: the conversation moved to a fresh session at a turn boundary
      (:class:`~realtalk.RolledOver`).

    Attributes:
        conversation_id, wall_time, at, id: as for :class:`TranscriptRecord`.
        item_id: the assistant item that was playing (barge-ins), or the item of the reply
            the lost connection cut off (``"reconnected"``; ``None`` if none was cut off).
        kind: one of the four above.
        heard_ms: how much of that item had been played (``None`` without an item).
        detail: what the event said besides, as ``key=value`` pairs separated by spaces
            (the detector that fired, whether the model was asked to resume; the attempts,
            downtime and items restored of a reconnect or rollover).
    """

    conversation_id: str
    item_id: str | None
    kind: MarkKind = attrs.field(validator=attrs.validators.in_(MARK_KINDS))
    heard_ms: float | None
    wall_time: float
    at: float | None = None
    detail: str = ""
    id: int | None = None


Entry: TypeAlias = TranscriptRecord | InterruptionMark
"""Anything a transcript store keeps."""


@attrs.frozen(kw_only=True)
class ConversationSummary:
    """One conversation in a store, in figures: its transcripts (and those dropped as echo),
    and its marks of each kind (``interruptions``: ``"interrupted"``; ``false_interruptions``:
    ``"false_interruption"``; ``reconnects``: ``"reconnected"``, the connections lost and
    restored; ``rollovers``: ``"rolled_over"``, the moves to a fresh session)."""

    conversation_id: str
    first_wall_time: float
    last_wall_time: float
    user_transcripts: int
    assistant_transcripts: int
    dropped: int
    interruptions: int
    false_interruptions: int
    reconnects: int = 0
    rollovers: int = 0


# ---------------------------------------------------------------------------------------------
# Plain JSON
# ---------------------------------------------------------------------------------------------


def verdict_to_dict(verdict: TranscriptVerdict) -> dict[str, Any]:
    """A verdict as a JSON object."""
    return {"filter": verdict.filter, "drop": verdict.drop, "reason": verdict.reason,
            "score": verdict.score, "matched": verdict.matched}


def verdict_from_dict(data: dict[str, Any]) -> TranscriptVerdict:
    """The verdict of :func:`verdict_to_dict`'s object.

    Raises:
        TranscriptStoreError: a field is missing or has the wrong type.
    """
    try:
        return TranscriptVerdict(filter=str(data["filter"]), drop=bool(data["drop"]),
                                 reason=str(data["reason"]), score=float(data["score"]),
                                 matched=None if data.get("matched") is None
                                 else str(data["matched"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise TranscriptStoreError(f"malformed verdict {data!r}: {exc}") from exc


def entry_to_dict(entry: Entry) -> dict[str, Any]:
    """A record or mark as a JSON object (``"type"``: ``"transcript"`` or ``"mark"``); the
    ``id`` is left out, the store gives it."""
    if isinstance(entry, TranscriptRecord):
        return {
            "type": "transcript", "conversation_id": entry.conversation_id,
            "item_id": entry.item_id, "role": entry.role, "text": entry.text,
            "wall_time": entry.wall_time, "at": entry.at, "response_id": entry.response_id,
            "interrupted": entry.interrupted, "heard_ms": entry.heard_ms,
            "dropped": entry.dropped, "verdicts": [verdict_to_dict(v) for v in entry.verdicts],
        }
    return {
        "type": "mark", "conversation_id": entry.conversation_id, "item_id": entry.item_id,
        "kind": entry.kind, "heard_ms": entry.heard_ms, "wall_time": entry.wall_time,
        "at": entry.at, "detail": entry.detail,
    }


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def entry_from_dict(data: dict[str, Any], *, id: int | None = None) -> Entry:
    """The record or mark of :func:`entry_to_dict`'s object, numbered ``id``.

    Raises:
        TranscriptStoreError: an unknown ``type``, a missing field or a wrong value.
    """
    try:
        kind = data["type"]
        if kind == "transcript":
            return TranscriptRecord(
                conversation_id=str(data["conversation_id"]),
                item_id=_optional_str(data.get("item_id")), role=data["role"],
                text=str(data["text"]), wall_time=float(data["wall_time"]),
                at=_optional_float(data.get("at")),
                response_id=_optional_str(data.get("response_id")),
                interrupted=bool(data.get("interrupted", False)),
                heard_ms=_optional_float(data.get("heard_ms")),
                dropped=bool(data.get("dropped", False)),
                verdicts=tuple(verdict_from_dict(v) for v in data.get("verdicts", ())), id=id)
        if kind == "mark":
            if data.get("kind") not in MARK_KINDS:
                raise TranscriptStoreError(
                    f"unknown mark kind {data.get('kind')!r}: expected one of "
                    f"{', '.join(map(repr, MARK_KINDS))}")
            return InterruptionMark(
                conversation_id=str(data["conversation_id"]),
                item_id=_optional_str(data.get("item_id")), kind=data["kind"],
                heard_ms=_optional_float(data.get("heard_ms")),
                wall_time=float(data["wall_time"]), at=_optional_float(data.get("at")),
                detail=str(data.get("detail", "")), id=id)
    except (KeyError, TypeError, ValueError) as exc:
        raise TranscriptStoreError(f"malformed transcript entry {data!r}: {exc}") from exc
    raise TranscriptStoreError(
        f"unknown transcript entry type {kind!r}: expected 'transcript' or 'mark'")


def summarize(entries: list[Entry]) -> list[ConversationSummary]:
    """Per conversation figures of ``entries``, in order of first appearance."""
    order: list[str] = []
    by_id: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.conversation_id not in by_id:
            order.append(entry.conversation_id)
            by_id[entry.conversation_id] = []
        by_id[entry.conversation_id].append(entry)
    out = []
    for cid in order:
        group = by_id[cid]
        records = [e for e in group if isinstance(e, TranscriptRecord)]
        marks = [e for e in group if isinstance(e, InterruptionMark)]
        out.append(ConversationSummary(
            conversation_id=cid,
            first_wall_time=min(e.wall_time for e in group),
            last_wall_time=max(e.wall_time for e in group),
            user_transcripts=sum(r.role == "user" for r in records),
            assistant_transcripts=sum(r.role == "assistant" for r in records),
            dropped=sum(r.dropped for r in records),
            interruptions=sum(m.kind == "interrupted" for m in marks),
            false_interruptions=sum(m.kind == "false_interruption" for m in marks),
            reconnects=sum(m.kind == "reconnected" for m in marks),
            rollovers=sum(m.kind == "rolled_over" for m in marks)))
    return out
