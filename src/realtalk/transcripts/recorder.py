"""``TranscriptRecorder``: conversation events in, stored records out."""

from __future__ import annotations

import collections
import functools
import time
import uuid
from collections.abc import Callable, Sequence

from ..echo.transcript import EchoTranscriptDropped, TranscriptVerdict
from ..reconnect import Reconnected
from ..rollover import RolledOver
from ..session.outputs import (
    AssistantTranscript,
    FalseInterruption,
    Interrupted,
    UserTranscript,
)
from .base import TranscriptStore
from .records import Entry, InterruptionMark, TranscriptRecord

__all__ = ("TranscriptRecorder",)


class TranscriptRecorder:
    """Writes one conversation's transcripts to a store, as its events arrive.

    Pass every conversation event to :meth:`record`; it stores

    - :class:`~realtalk.UserTranscript`: a user record, with the echo filters' ``verdicts``
      when the filters ran (they kept it);
    - :class:`~realtalk.echo.transcript.EchoTranscriptDropped`: a user record flagged
      ``dropped``, with every verdict;
    - :class:`~realtalk.AssistantTranscript`: an assistant record with its interruption marks
      (``interrupted``, ``heard_ms``);
    - :class:`~realtalk.Interrupted` and :class:`~realtalk.FalseInterruption`: a mark;
    - :class:`~realtalk.Reconnected`: a ``"reconnected"`` mark, on the item of the reply the
      loss cut off (if any) with what of it was heard, its ``detail`` the attempts, the
      downtime, the items restored, the microphone audio dropped and the lost response's id;
      when that reply's transcript never came (the loss cut it off first), an interrupted
      assistant record of the words the user heard of it (``LostResponse.heard_text``, what
      the new session was given) is stored just before the mark, so the audit has them;
    - :class:`~realtalk.RolledOver`: a ``"rolled_over"`` mark, its ``detail`` the age of the
      session left, the wait for a quiet moment and the items restored;

    and ignores the rest. Each is committed before :meth:`record` returns (see the store).

    Args:
        store: where to write.
        conversation_id: the id records carry; a new random one by default.
        wall_clock: Unix seconds, for ``wall_time`` (default :func:`time.time`).
    """

    def __init__(self, store: TranscriptStore, *, conversation_id: str | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.conversation_id = conversation_id if conversation_id is not None \
            else uuid.uuid4().hex
        self._wall_clock = wall_clock
        # The assistant items whose transcript is stored: a lost reply's heard words are
        # stored only if its own transcript was not (a lost reply is one of the last few).
        self._assistant_items: collections.deque[str | None] = collections.deque(maxlen=32)

    def record(self, event: object, *,
               verdicts: Sequence[TranscriptVerdict] = ()) -> Entry | None:
        """Store what ``event`` says, if it is one of the kinds above; return the entry (for a
        :class:`~realtalk.Reconnected`, the mark).

        ``verdicts`` are those of the echo filters on a kept :class:`~realtalk.UserTranscript`.

        Raises:
            TranscriptStoreError: the store could not write it.
        """
        if isinstance(event, Reconnected):
            lost = event.lost_response
            if lost is not None and lost.heard_text \
                    and lost.item_id not in self._assistant_items:
                self._store(TranscriptRecord(
                    conversation_id=self.conversation_id, item_id=lost.item_id,
                    role="assistant", text=lost.heard_text, wall_time=self._wall_clock(),
                    at=event.at, response_id=lost.response_id, interrupted=True,
                    heard_ms=lost.heard_ms))
        entry = self._entry(event, tuple(verdicts))
        if entry is not None:
            self._store(entry)
        return entry

    def _store(self, entry: Entry) -> None:
        self.store.append(entry)
        if isinstance(entry, TranscriptRecord) and entry.role == "assistant":
            self._assistant_items.append(entry.item_id)

    async def arecord(self, event: object, *,
                      verdicts: Sequence[TranscriptVerdict] = ()) -> Entry | None:
        """:meth:`record` in a worker thread, for stores whose writes may block (a SQLite file
        shared by many busy writers, ``durability="power"``, ``fsync=True``, a network file
        system). Await each call before the next event, so that records keep their order."""
        import anyio.to_thread  # here: the recorder's synchronous core needs no event loop

        return await anyio.to_thread.run_sync(
            functools.partial(self.record, event, verdicts=verdicts))

    def _entry(self, event: object, verdicts: tuple[TranscriptVerdict, ...]) -> Entry | None:
        cid = self.conversation_id
        match event:
            case UserTranscript(item_id=item_id, text=text, at=at):
                return TranscriptRecord(conversation_id=cid, item_id=item_id, role="user",
                                        text=text, wall_time=self._wall_clock(), at=at,
                                        verdicts=verdicts)
            case EchoTranscriptDropped(item_id=item_id, text=text, verdicts=all_verdicts, at=at):
                return TranscriptRecord(conversation_id=cid, item_id=item_id, role="user",
                                        text=text, wall_time=self._wall_clock(), at=at,
                                        dropped=True, verdicts=all_verdicts)
            case AssistantTranscript(response_id=rid, item_id=item_id, text=text,
                                     interrupted=interrupted, heard_ms=heard_ms, at=at):
                return TranscriptRecord(conversation_id=cid, item_id=item_id, role="assistant",
                                        text=text, wall_time=self._wall_clock(), at=at,
                                        response_id=rid, interrupted=interrupted,
                                        heard_ms=heard_ms)
            case Interrupted(item_id=item_id, heard_ms=heard_ms, source=source,
                             latency=latency):
                return InterruptionMark(conversation_id=cid, item_id=item_id,
                                        kind="interrupted", heard_ms=heard_ms,
                                        wall_time=self._wall_clock(), at=latency.detected,
                                        detail=f"source={source}")
            case FalseInterruption(item_id=item_id, heard_ms=heard_ms, resumed=resumed, at=at):
                return InterruptionMark(conversation_id=cid, item_id=item_id,
                                        kind="false_interruption", heard_ms=heard_ms,
                                        wall_time=self._wall_clock(), at=at,
                                        detail=f"resumed={resumed}")
            case Reconnected(attempts=attempts, downtime_s=downtime_s,
                             items_restored=restored, lost_response=lost,
                             audio_dropped_ms=audio_dropped_ms, at=at):
                detail = (f"attempts={attempts} downtime_ms={downtime_s * 1000:.0f} "
                          f"items_restored={restored} audio_dropped_ms={audio_dropped_ms:.0f}")
                if lost is not None:
                    detail += f" lost_response={lost.response_id}"
                return InterruptionMark(conversation_id=cid,
                                        item_id=lost.item_id if lost is not None else None,
                                        kind="reconnected",
                                        heard_ms=lost.heard_ms if lost is not None else None,
                                        wall_time=self._wall_clock(), at=at, detail=detail)
            case RolledOver(session_age_s=age_s, waited_s=waited_s, items_restored=restored,
                            at=at):
                return InterruptionMark(conversation_id=cid, item_id=None, kind="rolled_over",
                                        heard_ms=None, wall_time=self._wall_clock(), at=at,
                                        detail=f"session_age_s={age_s:.2f} "
                                               f"waited_s={waited_s:.2f} "
                                               f"items_restored={restored}")
            case _:
                return None
