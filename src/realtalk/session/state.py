"""The conversation state machine: one transition table, nothing else.

Theory of operation
-------------------
Everything that changes :class:`State` lives in :data:`TRANSITIONS`; :class:`StateMachine`
only looks rows up. The session core (``session/core.py``) decides *when* a trigger happens
(first audio queued, barge-in confirmed, ``response.done`` for the cancelled response, ...);
this module decides *whether* it is allowed. A trigger with no row for the current state is a
bug in the core: it raises :class:`~realtalk.errors.LocalProtocolError` and the state is left
unchanged, so a wrong transition is never silently absorbed.

::

    idle --OPENED--> listening --AUDIO_QUEUED--> speaking --PLAYBACK_DRAINED--> listening
                                                 speaking --BARGE_IN--> cancelling
                     cancelling --CANCEL_CONFIRMED | CANCEL_TIMEOUT--> listening
    listening | speaking | cancelling --CLOSED--> idle
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from typing import Final

from ..errors import LocalProtocolError

__all__ = ("State", "Trigger", "TRANSITIONS", "StateMachine")

logger = logging.getLogger("realtalk.session")


class State(enum.Enum):
    """Where the conversation is."""

    IDLE = "idle"
    """Not connected (before open, after close)."""
    LISTENING = "listening"
    """Connected; no assistant audio is playing. The microphone is always open."""
    SPEAKING = "speaking"
    """Assistant audio is queued or playing."""
    CANCELLING = "cancelling"
    """Barge-in happened: playback stopped, waiting for upstream to confirm the cancel."""


class Trigger(enum.Enum):
    """What can move the state machine."""

    OPENED = "opened"
    """The transport connected."""
    AUDIO_QUEUED = "audio_queued"
    """Audio of an active response was queued for playback."""
    PLAYBACK_DRAINED = "playback_drained"
    """The response is done upstream and all of its audio has been played."""
    BARGE_IN = "barge_in"
    """The user talked over the assistant (local detector, server VAD or the app)."""
    CANCEL_CONFIRMED = "cancel_confirmed"
    """Upstream ended the cancelled response (or there was nothing to cancel)."""
    CANCEL_TIMEOUT = "cancel_timeout"
    """Upstream did not confirm the cancel in time; carry on listening anyway."""
    CLOSED = "closed"
    """The conversation ended or the transport closed."""


TRANSITIONS: Final[Mapping[tuple[State, Trigger], State]] = {
    (State.IDLE, Trigger.OPENED): State.LISTENING,
    (State.LISTENING, Trigger.AUDIO_QUEUED): State.SPEAKING,
    (State.SPEAKING, Trigger.AUDIO_QUEUED): State.SPEAKING,
    (State.SPEAKING, Trigger.PLAYBACK_DRAINED): State.LISTENING,
    (State.SPEAKING, Trigger.BARGE_IN): State.CANCELLING,
    (State.CANCELLING, Trigger.CANCEL_CONFIRMED): State.LISTENING,
    (State.CANCELLING, Trigger.CANCEL_TIMEOUT): State.LISTENING,
    (State.LISTENING, Trigger.CLOSED): State.IDLE,
    (State.SPEAKING, Trigger.CLOSED): State.IDLE,
    (State.CANCELLING, Trigger.CLOSED): State.IDLE,
}


class StateMachine:
    """Holds the current :class:`State` and applies :data:`TRANSITIONS`."""

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = State.IDLE

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    def can(self, trigger: Trigger) -> bool:
        """Whether ``trigger`` has a row for the current state."""
        return (self._state, trigger) in TRANSITIONS

    def fire(self, trigger: Trigger) -> State:
        """Apply ``trigger`` and return the new state.

        Raises:
            LocalProtocolError: no row for (current state, trigger); the state is unchanged.
        """
        try:
            new = TRANSITIONS[self._state, trigger]
        except KeyError:
            raise LocalProtocolError(
                f"no transition for trigger {trigger.value!r} in state {self._state.value!r}"
            ) from None
        if new is not self._state:
            logger.debug("state %s -> %s on %s", self._state.value, new.value, trigger.value)
        self._state = new
        return new
