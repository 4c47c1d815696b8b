"""The conversation state machine: what moves the state, and what each input does in each state.

Theory of operation
-------------------
Everything that affects the state machine lives in this module, in two tables.

:data:`TRANSITIONS` says where each :class:`Trigger` takes each :class:`State`;
:class:`StateMachine` only looks rows up. A trigger with no row for the current state is a
bug in the core: it raises :class:`~realtalk.errors.LocalProtocolError` and the state is left
unchanged, so a wrong transition is never silently absorbed.

:data:`HANDLING` says, for every :class:`Input` the session core (``session/core.py``) is
given and every state, what the core does with it: fire a trigger, act without moving the
state, only report it, drop it, ignore it, or refuse it (:class:`Handling`). The core asks
:meth:`StateMachine.handling` instead of testing the state itself, so "does this input count
here" is decided here and nowhere else. What the core still decides on its own is everything
that is not the state: which response a delta belongs to, whether a duck is under way, whether
the local detector agrees with the server's VAD, whether the queued audio has played out.

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

__all__ = ("State", "Trigger", "TRANSITIONS", "Input", "Handling", "HANDLING", "StateMachine")

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


class Input(enum.Enum):
    """What the session core is told, as far as the state decides what it does with it."""

    OPEN = "open"
    """The transport connected (``ClientSession.open``)."""
    CLOSE = "close"
    """The conversation ended or the transport closed (``ClientSession.close``)."""
    USER_SPEECH = "user_speech"
    """A confirmed speech onset from a local detector, or the app
    (``ClientSession.user_speech``)."""
    SERVER_SPEECH = "server_speech"
    """The server's VAD heard speech start (``input_audio_buffer.speech_started``). Where it
    barges in, it does so only if server-VAD barge-in is on and a running local detector
    heard probable speech too (else it was the assistant's own echo)."""
    INTERRUPT = "interrupt"
    """The app asked to interrupt the assistant (``ClientSession.interrupt``)."""
    SPEECH_PROBABLE = "speech_probable"
    """The local detector thinks speech may be starting: duck playback (if ducking is on
    and it is not ducked yet)."""
    SPEECH_WITHDRAWN = "speech_withdrawn"
    """The local detector takes back its probable speech: restore a duck."""
    AUDIO_DELTA = "audio_delta"
    """Audio of a response that was neither cancelled nor has ended."""
    LATE_AUDIO_DELTA = "late_audio_delta"
    """Audio of a response that was cancelled or has ended: generated before the cancel
    reached the server, it must never be heard."""
    CANCELLED_DONE = "cancelled_done"
    """``response.done`` for the response the last barge-in cancelled."""
    CANCEL_NOT_ACTIVE = "cancel_not_active"
    """The server's ``response_cancel_not_active`` error for that cancel: the response had
    ended before the cancel arrived, so nothing is left to wait for."""
    CANCEL_TIMEOUT = "cancel_timeout"
    """The cancel's deadline passed with no confirmation (``ClientSession.tick``)."""
    PLAYBACK_PROGRESS = "playback_progress"
    """The output reported its played count (``ClientSession.playback_progress``): time to report
    the play position, at most every ``progress_interval``."""
    DRAIN_CHECK = "drain_check"
    """After each progress report, tick and ``response.done``: has playback ended? It has
    once the response is done upstream and all its queued audio has played."""
    JUDGED_FALSE = "judged_false"
    """A truncating interruption was judged false: no user words followed it within
    ``BargeIn.false_interruption_s``."""


class Handling(enum.Enum):
    """What the core does with an :class:`Input`, when it fires no trigger."""

    ACT = "act"
    """The input takes effect without moving the state (a duck, its restore, a resume)."""
    REPORT = "report"
    """The input is only reported to the app (an event); nothing else changes."""
    DROP = "drop"
    """Audio the user must never hear: dropped, and counted in the late-audio statistics."""
    IGNORE = "ignore"
    """The input does not count in this state: no action, no event."""
    REFUSE = "refuse"
    """Calling it in this state is a bug in the caller: :class:`LocalProtocolError`."""


_T, _H = Trigger, Handling  # short names keep the table one readable line per input

# One row per input, one column per state, in the order of State.
_BY_INPUT: Final[Mapping[Input, tuple[Trigger | Handling, ...]]] = {
    #                         idle       listening        speaking             cancelling
    Input.OPEN:              (_T.OPENED, _H.REFUSE,       _H.REFUSE,           _H.REFUSE),
    Input.CLOSE:             (_H.IGNORE, _T.CLOSED,       _T.CLOSED,           _T.CLOSED),
    Input.USER_SPEECH:       (_H.IGNORE, _H.REPORT,       _T.BARGE_IN,         _H.IGNORE),
    Input.SERVER_SPEECH:     (_H.IGNORE, _H.REPORT,       _T.BARGE_IN,         _H.IGNORE),
    Input.INTERRUPT:         (_H.IGNORE, _H.IGNORE,       _T.BARGE_IN,         _H.IGNORE),
    Input.SPEECH_PROBABLE:   (_H.IGNORE, _H.IGNORE,       _H.ACT,              _H.IGNORE),
    Input.SPEECH_WITHDRAWN:  (_H.IGNORE, _H.IGNORE,       _H.ACT,              _H.IGNORE),
    Input.AUDIO_DELTA:       (_H.IGNORE, _T.AUDIO_QUEUED, _T.AUDIO_QUEUED,     _H.REPORT),
    Input.LATE_AUDIO_DELTA:  (_H.IGNORE, _H.DROP,         _H.DROP,             _H.DROP),
    Input.CANCELLED_DONE:    (_H.IGNORE, _H.IGNORE,       _H.IGNORE,           _T.CANCEL_CONFIRMED),
    Input.CANCEL_NOT_ACTIVE: (_H.IGNORE, _H.IGNORE,       _H.IGNORE,           _T.CANCEL_CONFIRMED),
    Input.CANCEL_TIMEOUT:    (_H.IGNORE, _H.IGNORE,       _H.IGNORE,           _T.CANCEL_TIMEOUT),
    Input.PLAYBACK_PROGRESS: (_H.IGNORE, _H.IGNORE,       _H.REPORT,           _H.IGNORE),
    Input.DRAIN_CHECK:       (_H.IGNORE, _H.IGNORE,       _T.PLAYBACK_DRAINED, _H.IGNORE),
    Input.JUDGED_FALSE:      (_H.IGNORE, _H.ACT,          _H.REPORT,           _H.REPORT),
}

HANDLING: Final[Mapping[tuple[State, Input], Trigger | Handling]] = {
    (state, input_): row[column]
    for input_, row in _BY_INPUT.items()
    for column, state in enumerate(State)
}
"""What the core does with each input in each state (every pair is present). Notes on rows
whose reason is not in the name:

- ``AUDIO_DELTA`` while ``cancelling``: audio of another response than the one being
  cancelled; it is dropped and reported as an error, since only one response plays at once.
- ``LATE_AUDIO_DELTA`` and ``AUDIO_DELTA`` while ``idle``: a frame that raced the close;
  nothing can play it (counted as a dropped delta, but not as late audio of a cancel).
- ``JUDGED_FALSE``: the model is asked to resume only while ``listening`` (and if
  ``BargeIn.resume_after_false``); while it speaks again, or a cancel is still pending, the
  judgement is only reported.
"""


class StateMachine:
    """Holds the current :class:`State` and applies :data:`TRANSITIONS`."""

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = State.IDLE

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    def handling(self, input_: Input) -> Trigger | Handling:
        """What :data:`HANDLING` says to do with ``input_`` in the current state.

        Raises:
            LocalProtocolError: the input is refused in the current state; the state is
                unchanged.
        """
        handling = HANDLING[self._state, input_]
        if handling is Handling.REFUSE:
            raise LocalProtocolError(
                f"input {input_.value!r} is refused in state {self._state.value!r}")
        return handling

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
