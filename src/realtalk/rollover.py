"""Rolling a conversation over to a fresh session before the hosted maximum duration.

A hosted realtime session ends at a fixed age (60 minutes on OpenAI, 30 on Azure: see
docs/reliability.md), with an ``error`` and a 1001 close that cut off whatever was being said.
With ``Reconnect(rollover_after_s=...)`` the conversation moves to a new session first, at a
turn boundary, without a gap:

1. once the session is ``rollover_after_s`` old, the engine asks its shell to open a second
   connection (:class:`OpenNextSession`) while the first goes on carrying the conversation;
2. when it is open (:meth:`ConversationEngine.next_session_ready
   <realtalk.engine.ConversationEngine.next_session_ready>`), the engine waits for a quiet
   moment: no reply in progress or playing, the user not talking (neither the local detector
   nor the server's VAD hears them), no spoken turn waiting for its transcript, no tool call
   unanswered;
3. then, in one step, it hands the shell :class:`SwitchSession` (send on the new connection
   from here, close the old one), configures the new session, restores the context on it and
   emits :class:`RolledOver`.

Nothing was playing and nobody was talking at the switch, so nothing is cut and nothing is
heard missing. A new connection that cannot be opened is tried again with the reconnect
backoff; after ``Reconnect.attempts`` failures in a row, rolling over is given up (the service's
own close then ends the session, and the conversation reconnects as after any loss).

Nothing here does I/O: the engine keeps a :class:`RolloverSchedule` and says what to do.
"""

from __future__ import annotations

import logging
from typing import Literal

import attrs

from .wire import (
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioTranscriptionCompleted,
    ServerEvent,
)

__all__ = ("DEFAULT_ROLLOVER_AFTER_S", "OpenNextSession", "RolledOver", "RolloverSchedule",
           "SwitchSession")

logger = logging.getLogger("realtalk.rollover")

#: The default age of a session at which it is rolled over: the shortest documented maximum
#: (Azure OpenAI Realtime's 30 minutes; OpenAI's is 60) less 5 minutes to find a turn
#: boundary in. Rolling an OpenAI session over twice as often as needed costs one restore.
DEFAULT_ROLLOVER_AFTER_S = 25 * 60.0

#: How long a spoken turn's missing transcript holds a rollover back: a transcript that has
#: not come by then (transcription failed or is off) is not coming.
TRANSCRIPT_WAIT_S = 10.0


@attrs.frozen
class OpenNextSession:
    """An effect: open a new connection through the same provider, keep the current one, and
    report with ``engine.next_session_ready(now)`` or ``engine.next_session_failed(reason,
    now)``."""


@attrs.frozen
class SwitchSession:
    """An effect: from here on, send on the connection the last :class:`OpenNextSession`
    opened and read it; close the one used so far (its end is no loss)."""


@attrs.frozen(kw_only=True)
class RolledOver:
    """The conversation moved to a fresh session at a turn boundary, its context restored.

    Attributes:
        session_age_s: how old the session it left was.
        waited_s: from the rollover's due time to the switch (opening the new connection,
            then waiting for a quiet moment).
        items_restored: the ``conversation.item.create`` events that recreated the context.
    """

    session_age_s: float
    waited_s: float
    items_restored: int
    at: float


@attrs.define
class RolloverSchedule:
    """When the current session rolls over, and whether the turn allows it now.

    Args:
        after_s: the session age that starts a rollover.
        attempts: failed openings in a row before giving up on this session's rollover.
        track_transcripts: whether spoken turns get a transcript to wait for.
    """

    after_s: float
    attempts: int
    track_transcripts: bool = True
    phase: Literal["waiting", "opening", "ready", "off"] = "off"
    opened_at: float = 0.0
    due_at: float | None = None
    failures: int = 0
    server_hears: bool = False
    untranscribed: dict[str, float] = attrs.field(factory=dict)
    """Committed spoken turns without a transcript yet, with their commit time."""

    def session_opened(self, now: float) -> None:
        """A session (the first, or one restored after a loss or a rollover) starts."""
        self.phase, self.opened_at, self.due_at = "waiting", now, now + self.after_s
        self.failures = 0
        self.server_hears = False
        self.untranscribed.clear()

    def session_lost(self) -> None:
        """The session was lost: a rollover under way is abandoned (the next session, once
        restored, starts its own count)."""
        self.phase, self.due_at = "off", None

    def next_deadline(self) -> float | None:
        return self.due_at if self.phase == "waiting" else None

    def due(self, now: float) -> bool:
        """Whether to open the next session now (then it is being opened)."""
        if self.phase != "waiting" or self.due_at is None or now < self.due_at:
            return False
        self.phase = "opening"
        return True

    def ready(self) -> None:
        if self.phase == "opening":
            self.phase = "ready"

    def failed(self, reason: str, delay_s: float, now: float) -> None:
        """Opening the next session failed: try again in ``delay_s``, unless the attempts are
        spent."""
        if self.phase != "opening":
            return
        self.failures += 1
        if self.failures >= self.attempts:
            logger.warning("could not open a session to roll over to (%s), %d times: "
                           "not rolling over", reason, self.failures)
            self.phase, self.due_at = "off", None
            return
        logger.info("could not open a session to roll over to (%s); again in %.2f s",
                    reason, delay_s)
        self.phase, self.due_at = "waiting", now + delay_s

    def server_event(self, event: ServerEvent, now: float) -> None:
        """What the server's VAD hears, and which spoken turns await their transcript."""
        match event:
            case InputAudioBufferSpeechStarted():
                self.server_hears = True
            case InputAudioBufferCleared():
                self.server_hears = False
            case InputAudioBufferCommitted(item_id=item_id):
                # Not at speech_stopped: until the commit that follows it, the turn is only
                # in the old session's input buffer.
                self.server_hears = False
                if self.track_transcripts:
                    self.untranscribed[item_id] = now
            case InputAudioTranscriptionCompleted(item_id=item_id):
                self.untranscribed.pop(item_id, None)

    def turn_settled(self, now: float) -> bool:
        """Whether the server hears no user and no spoken turn still awaits its transcript."""
        for item_id, committed_at in list(self.untranscribed.items()):
            if now - committed_at >= TRANSCRIPT_WAIT_S:
                del self.untranscribed[item_id]
        return not self.server_hears and not self.untranscribed
