"""Suspected echoes: the user transcripts of a store that may be the assistant's own voice."""

from __future__ import annotations

from typing import Literal

import attrs

from ..echo.transcript import AssistantSpeech, SimilarityFilter, TranscriptContext
from .base import TranscriptStore
from .records import TranscriptRecord

__all__ = ("SuspectedEcho", "suspected_echoes")

How = Literal["dropped", "near_miss", "rejudged"]


@attrs.frozen(kw_only=True)
class SuspectedEcho:
    """A user transcript that may be echo.

    Attributes:
        record: the user's record.
        how: ``"dropped"`` (the filters dropped it), ``"near_miss"`` (kept, but a filter
            scored it at least ``min_score``), or ``"rejudged"`` (stored without verdicts, and
            the similarity filter, run now against the assistant records before it, finds it
            echo-like).
        score: the highest echo score.
        reason: the deciding verdict's reason.
        assistant_text: the assistant's words it resembles, when known.
    """

    record: TranscriptRecord
    how: How
    score: float
    reason: str
    assistant_text: str | None


def _time(record: TranscriptRecord, use_monotonic: bool) -> float:
    if use_monotonic and record.at is not None:
        return record.at
    return record.wall_time


def _rejudge(record: TranscriptRecord, before: list[TranscriptRecord],
             similarity: SimilarityFilter) -> tuple[bool, float, str, str | None]:
    # One conversation runs on one monotonic clock: use it when every record has it.
    use_monotonic = record.at is not None and all(r.at is not None for r in before)
    now = _time(record, use_monotonic)
    speeches = tuple(
        AssistantSpeech.from_text(r.item_id or "", r.text, interrupted=r.interrupted,
                                  heard_ms=r.heard_ms, ended_at=_time(r, use_monotonic))
        for r in before if now - _time(r, use_monotonic) <= similarity.window_s)
    verdict = similarity.judge(record.text, TranscriptContext(at=now, speeches=speeches))
    return verdict.drop, verdict.score, verdict.reason, verdict.matched


def suspected_echoes(store: TranscriptStore, conversation_id: str | None = None, *,
                     min_score: float = 0.5, rejudge: bool = True,
                     window_s: float = 15.0) -> list[SuspectedEcho]:
    """The user transcripts of ``store`` (of one conversation) that may be echo, in order.

    Dropped ones, kept ones a filter scored at least ``min_score``, and, with ``rejudge``,
    those stored without verdicts (no filters ran) that a :class:`SimilarityFilter` finds
    echo-like against the assistant transcripts of the previous ``window_s`` seconds (the
    check "does this user transcript match the assistant's last response?", done for every
    transcript instead of by eye). Short transcripts are never rejudged as echo: the audio is gone.
    """
    similarity = SimilarityFilter(window_s=window_s, lookback_s=None)
    found: list[SuspectedEcho] = []
    assistants: dict[str, list[TranscriptRecord]] = {}
    for record in store.records(conversation_id):
        if record.role == "assistant":
            assistants.setdefault(record.conversation_id, []).append(record)
            continue
        if record.dropped:
            decided = next((v for v in record.verdicts if v.drop), None)
            found.append(SuspectedEcho(
                record=record, how="dropped", score=record.max_score,
                reason=f"{decided.filter}: {decided.reason}" if decided else "dropped",
                assistant_text=decided.matched if decided else None))
        elif record.verdicts:
            top = max(record.verdicts, key=lambda v: v.score)
            if top.score >= min_score:
                found.append(SuspectedEcho(record=record, how="near_miss", score=top.score,
                                           reason=f"{top.filter}: {top.reason}",
                                           assistant_text=top.matched))
        elif rejudge:
            drop, score, reason, matched = _rejudge(
                record, assistants.get(record.conversation_id, []), similarity)
            if drop or score >= min_score:
                found.append(SuspectedEcho(record=record, how="rejudged", score=score,
                                           reason=f"similarity: {reason}",
                                           assistant_text=matched))
    return found
