"""Reconnecting a conversation whose connection was lost: the settings and what the app hears.

With ``Conversation(reconnect=Reconnect())``, a lost connection (closed, reset, silent past
the keepalive) no longer ends the conversation. The engine stops playback where the user is,
emits :class:`Reconnecting`, and the shell waits :meth:`Reconnect.delay` and opens a new
connection through the same provider. On it the engine sends the same ``session.update``,
then recreates the conversation's context (:mod:`realtalk.session.context`) and sends what was
held during the outage; then it emits :class:`Reconnected`. A failed attempt (a refused
handshake, a connection lost again before the restore) counts against
:attr:`Reconnect.attempts`; when they are spent, the conversation ends with its usual fatal
:class:`~realtalk.ErrorOccurred`, naming the last reason. docs/reliability.md has the rules.

Nothing here does I/O: the delay is a number the shell sleeps for.
"""

from __future__ import annotations

import random

import attrs

from ._args import check_number, check_type, validator
from .rollover import DEFAULT_ROLLOVER_AFTER_S
from .wire import ClientEvent

__all__ = ("LostResponse", "Outage", "Reconnect", "Reconnected", "Reconnecting")


def _check_rng(name: str, value: object) -> None:
    check_type(name, value, random.Random, "a random.Random (seed it for reproducible delays)")


@attrs.frozen(kw_only=True)
class Reconnect:
    """How a conversation reconnects after its connection is lost.

    Attributes:
        attempts: connection attempts per outage before giving up (a refused handshake and a
            connection lost again before its restore each count one). The count starts over
            once a new connection is restored.
        backoff_s: the delay before the first attempt; it doubles with each attempt...
        max_backoff_s: ... up to this.
        rng: draws the jitter (seed one for reproducible delays in tests).
        rollover_after_s: the session age at which the conversation moves to a fresh
            session, at the next turn boundary and without a gap (:mod:`realtalk.rollover`);
            by default 25 minutes, the shortest documented maximum (Azure's 30 minutes) less
            a margin to find a quiet moment in. ``None``: never (the service's close at its
            maximum is then a loss like any other).

    Raises:
        ConfigurationError: a value of the wrong type or out of range, named in the message.
    """

    attempts: int = attrs.field(default=5, validator=validator(check_number, integer=True,
                                                                minimum=1))
    backoff_s: float = attrs.field(default=0.25, validator=validator(check_number,
                                                                      minimum=0.0))
    max_backoff_s: float = attrs.field(default=8.0, validator=validator(check_number,
                                                                         minimum=0.0))
    rng: random.Random = attrs.field(factory=random.Random, eq=False, repr=False,
                                     validator=validator(_check_rng))
    rollover_after_s: float | None = attrs.field(
        default=DEFAULT_ROLLOVER_AFTER_S, validator=validator(check_number, positive=True,
                                                              optional=True))

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (from 1): the exponential step
        ``min(max_backoff_s, backoff_s * 2 ** (attempt - 1))``, half of it fixed and half
        drawn at random ("equal jitter"). The fixed half keeps a refused server from being
        hammered; the random half keeps many clients that lost one server together from
        coming back in step."""
        step = min(self.max_backoff_s, self.backoff_s * 2.0 ** (attempt - 1))
        return step / 2 + self.rng.uniform(0.0, step / 2)


@attrs.frozen(kw_only=True)
class Reconnecting:
    """The connection was lost; attempt number ``attempt`` (of ``Reconnect.attempts``) to
    open a new one starts in ``delay_s`` seconds. ``reason`` says what ended the last
    connection, or why the last attempt failed."""

    attempt: int
    reason: str
    delay_s: float
    at: float


@attrs.frozen(kw_only=True)
class LostResponse:
    """The assistant's reply that the lost connection cut off. It is not asked for again:
    the app decides (``Conversation.create_response()`` asks the model to go on).

    Attributes:
        response_id: the response, on the lost session.
        item_id: its audio item there (``None`` if no audio had come).
        heard_ms: how much of that item the user heard.
        heard_text: the words of it the user heard (what the new session was given).
    """

    response_id: str
    item_id: str | None
    heard_ms: float
    heard_text: str


@attrs.frozen(kw_only=True)
class Reconnected:
    """A new connection is open and the conversation's context is restored on it.

    Attributes:
        attempts: the attempts this outage took.
        downtime_s: from the loss to now.
        items_restored: the ``conversation.item.create`` events that recreated the context.
        lost_response: the reply the loss cut off, if one was in progress or still playing.
        audio_dropped_ms: microphone audio captured during the outage and not sent (the user
            heard silence; what they said into it is not answered late).
    """

    attempts: int
    downtime_s: float
    items_restored: int
    lost_response: LostResponse | None
    audio_dropped_ms: float
    at: float


@attrs.define
class Outage:
    """One outage, from the loss to the restore: the engine's bookkeeping.

    Args:
        settings: the reconnect settings.
        reason: what ended the connection.
        started_at: when (the caller's clock).
    """

    settings: Reconnect
    reason: str
    started_at: float
    lost_response: LostResponse | None = None
    attempts: int = 0
    held: list[ClientEvent] = attrs.field(factory=list)
    """Events produced during the outage (the app's requests, tool outputs), sent after the
    restore."""
    audio_dropped_samples: int = 0

    def next_attempt(self, reason: str, now: float) -> Reconnecting | None:
        """The last connection or attempt failed because of ``reason``: the next attempt, or
        ``None`` when the budget is spent."""
        self.reason = reason
        if self.attempts >= self.settings.attempts:
            return None
        self.attempts += 1
        return Reconnecting(attempt=self.attempts, reason=reason,
                            delay_s=self.settings.delay(self.attempts), at=now)

    def gave_up(self) -> str:
        """The fatal error's message once the budget is spent."""
        return (f"connection lost: {self.reason} (gave up after {self.attempts} reconnect "
                f"attempt{'s' if self.attempts != 1 else ''})")

    def ended(self, items_restored: int, now: float, sample_rate: int) -> Reconnected:
        """The event for the restore that ends the outage."""
        return Reconnected(attempts=self.attempts, downtime_s=now - self.started_at,
                           items_restored=items_restored, lost_response=self.lost_response,
                           audio_dropped_ms=self.audio_dropped_samples * 1000.0 / sample_rate,
                           at=now)
