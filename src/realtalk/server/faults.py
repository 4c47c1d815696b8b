"""Faults the embedded server can inject: a :class:`FaultPlan` given to
:class:`~realtalk.server.RealtimeServer` (or :class:`realtalk.testing.InProcessServer`) makes
its sessions fail the ways a hosted service and the network between fail, on cue, so that a
client's handling of them can be tested and measured.

A plan is data: a list of :class:`Fault`, each an *action* and a *trigger*, and a number of
WebSocket handshakes to refuse. Actions:

- :class:`Drop`: the connection ends: a TCP reset, a TCP close without a close frame, or a
  clean closing handshake with a code and a reason;
- :class:`Stall`: the server goes silent (no events, no pongs, no pings of its own, nothing
  read) while the socket stays open, for a while or for good;
- :class:`Garble`: a broken frame: text that is not valid JSON (the connection goes on),
  invalid UTF-8 in a text frame, or a frame cut off mid-way followed by the end of the
  connection;
- :class:`SendError`: an ``error`` event, shaped as the hosted service's (presets for a rate
  limit, a server error and an expired session).

Triggers: just before the Nth server event of a given type would be sent (``before=`` and
``nth=``), or a given time after the session started (``after=``), in a given session (the
Nth connection the server accepted; every one with ``session=None``). A fault fires at most
once per session, and the faults that fire together fire in the plan's order, so an error
followed by a close is two faults with the same trigger. Nothing is random unless asked for:
:meth:`FaultPlan.random` draws a plan from a seed, and the same seed draws the same plan.

:class:`SessionFaults` is the plan applied to one session, sans-I/O: it is told each event
type about to be sent and the time, and answers with the actions due; the serve loop
(:mod:`.serving`) performs them on the connection.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Literal, TypeAlias

import attrs

from .._args import check_choice, check_number, check_type, validator
from ..errors import ConfigurationError
from ..wire import ErrorInfo, ServerError

__all__ = (
    "Drop",
    "Stall",
    "Garble",
    "SendError",
    "FaultAction",
    "Fault",
    "FaultPlan",
    "SessionFaults",
)

DropHow = Literal["reset", "eof", "close"]
GarbleHow = Literal["invalid_json", "invalid_utf8", "truncated"]


def _check_close_code(name: str, value: object) -> None:
    # Codes an endpoint may send in a close frame (RFC 6455 section 7.4).
    check_number(name, value, integer=True, minimum=1000, maximum=4999)
    if value in (1004, 1005, 1006, 1015) or 1016 <= value <= 2999:  # type: ignore[operator]
        raise ConfigurationError(f"expected a close code an endpoint may send for {name} "
                                 f"(1000-1003, 1007-1014 or 3000-4999), got {value}",
                                 argument=name)


@attrs.frozen
class Drop:
    """End the connection.

    ``how``: ``"reset"`` resets the TCP connection (the peer's read fails at once),
    ``"eof"`` closes it without a close frame (the peer reads the end of the stream), and
    ``"close"`` runs a clean closing handshake with ``code`` and ``reason``. The first two
    look the same to a WebSocket client: the connection is gone and no close frame came.
    """

    how: DropHow = attrs.field(default="reset",
                               validator=validator(check_choice, ("reset", "eof", "close")))
    code: int = attrs.field(default=1011, validator=validator(_check_close_code))
    reason: str = attrs.field(default="", validator=validator(check_type, str, "a string"))


@attrs.frozen
class Stall:
    """Go silent for ``seconds`` (``None``: until the connection ends), then go on as if
    nothing had happened: nothing is sent (events, pongs, the server's own keepalive pings)
    and nothing is read, so the client's pings go unanswered while the socket stays open."""

    seconds: float | None = attrs.field(
        default=None, validator=validator(check_number, positive=True, optional=True))


@attrs.frozen
class Garble:
    """Send a broken frame in place of the event that was due (which is lost).

    ``how``: ``"invalid_json"``, the event's JSON cut in half, in a whole text frame (a
    client reports it and goes on); ``"invalid_utf8"``, a text frame that is not UTF-8 (a
    WebSocket client closes the connection with 1007); ``"truncated"``, the first half of the
    event's frame and then the end of the TCP connection (the client reads a frame that never
    ends). At a time trigger, with no event due, a placeholder event stands in.
    """

    how: GarbleHow = attrs.field(
        default="invalid_json",
        validator=validator(check_choice, ("invalid_json", "invalid_utf8", "truncated")))


@attrs.frozen
class SendError:
    """Send an ``error`` event (``{"type": "error", "error": {type, code, message, param,
    event_id}}``, as the hosted service does), before the event that was due; the session
    goes on. A fault that follows with the same trigger can close the connection."""

    code: str | None = attrs.field(
        validator=validator(check_type, (str, type(None)), "a string or None"))
    message: str = attrs.field(validator=validator(check_type, str, "a string"))
    type: str = attrs.field(default="invalid_request_error",
                            validator=validator(check_type, str, "a string"))

    @classmethod
    def rate_limit(cls) -> SendError:
        """A rate limit (``rate_limit_exceeded``, as a 429 body reports one)."""
        return cls(code="rate_limit_exceeded", type="tokens",
                   message="Rate limit reached for tokens per min (TPM). Please try again "
                           "in 1.5s.")

    @classmethod
    def server_error(cls) -> SendError:
        """A server-side failure (type ``server_error``, no code)."""
        return cls(code=None, type="server_error",
                   message="The server had an error while processing your request. Sorry "
                           "about that!")

    @classmethod
    def session_expired(cls, minutes: int = 60) -> SendError:
        """The session reached its maximum duration (the hosted service then closes the
        connection with 1001 and the same message: add a ``Drop("close", 1001, ...)``)."""
        return cls(code="session_expired",
                   message=f"Your session hit the maximum duration of {minutes} minutes.")

    def event(self) -> ServerError:
        """The ``error`` event to send."""
        return ServerError(error=ErrorInfo(type=self.type, code=self.code,
                                           message=self.message))


FaultAction: TypeAlias = Drop | Stall | Garble | SendError
_ACTIONS = (Drop, Stall, Garble, SendError)
_DROPS_CONNECTION = (Drop, Garble)  # Garble: "invalid_json" only garbles, see ends_connection


def _check_action(name: str, value: object) -> None:
    check_type(name, value, _ACTIONS, "a Drop, Stall, Garble or SendError")


@attrs.frozen
class Fault:
    """One fault: ``action`` when its trigger fires, in the sessions it applies to.

    Args:
        action: what happens (:class:`Drop`, :class:`Stall`, :class:`Garble`,
            :class:`SendError`).
        before: the server event type (as sent on the wire, ``"response.output_audio.delta"``
            in the GA shape) whose ``nth`` occurrence triggers the fault, just before it
            would be sent.
        nth: which occurrence of ``before`` (1 for the first), counted per session.
        after: seconds after the session started (its ``session.created``) at which the
            fault fires instead; give ``before`` or ``after``, not both.
        session: the number of the session it applies to (1 for the first connection the
            server accepted, refused handshakes not counted); ``None`` for every session.

    Raises:
        ConfigurationError: an argument of the wrong type or out of range, or neither or
            both of ``before`` and ``after``.
    """

    action: FaultAction = attrs.field(validator=validator(_check_action))
    before: str | None = attrs.field(
        default=None, kw_only=True,
        validator=validator(check_type, (str, type(None)), "an event type or None"))
    nth: int = attrs.field(default=1, kw_only=True,
                           validator=validator(check_number, integer=True, positive=True))
    after: float | None = attrs.field(
        default=None, kw_only=True,
        validator=validator(check_number, minimum=0.0, optional=True))
    session: int | None = attrs.field(
        default=1, kw_only=True,
        validator=validator(check_number, integer=True, positive=True, optional=True))

    def __attrs_post_init__(self) -> None:
        if (self.before is None) == (self.after is None):
            raise ConfigurationError(
                "expected exactly one trigger for a Fault: before=<event type> (with nth=) "
                f"or after=<seconds>, got before={self.before!r}, after={self.after!r}",
                argument="before")

    def applies_to(self, session: int) -> bool:
        """Whether the fault applies to the ``session``-th session (1-based)."""
        return self.session is None or self.session == session


def _as_tuple(faults: Iterable[Fault]) -> tuple[Fault, ...]:
    return tuple(faults)


def _check_refusal(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if value not in _ERROR_STATUSES:
        raise ConfigurationError(f"expected an HTTP error status (4xx or 5xx, one "
                                 f"http.HTTPStatus names) for refuse_status, got {value!r}",
                                 argument="refuse_status")


_ERROR_STATUSES = frozenset(s.value for s in HTTPStatus if 400 <= s.value < 600)


@attrs.frozen
class FaultPlan:
    """The faults a server injects (see the module docstring).

    Args:
        faults: the faults, in the order they fire when several fire together.
        refuse_handshakes: how many WebSocket handshakes to refuse first (the first ones the
            server receives that it would otherwise accept), each with ``refuse_status``.
        refuse_status: the HTTP status of a refusal: 503 (service unavailable) or 429 (too
            many requests) are the usual ones; any 4xx or 5xx goes.

    Raises:
        ConfigurationError: an argument of the wrong type or out of range.
    """

    faults: tuple[Fault, ...] = attrs.field(default=(), converter=_as_tuple)
    refuse_handshakes: int = attrs.field(
        default=0, kw_only=True, validator=validator(check_number, integer=True, minimum=0))
    refuse_status: int = attrs.field(default=503, kw_only=True, validator=_check_refusal)

    @faults.validator
    def _check_faults(self, attribute: attrs.Attribute[tuple[Fault, ...]],
                      value: tuple[Fault, ...]) -> None:
        for index, fault in enumerate(value):
            check_type(f"faults[{index}]", fault, Fault, "a Fault")

    @classmethod
    def random(cls, seed: int, *, sessions: int = 1, per_session: int = 1,
               event_types: Sequence[str] = ("response.output_audio.delta",),
               max_nth: int = 20, actions: Sequence[FaultAction] = (Drop(),)) -> FaultPlan:
        """A plan drawn from ``seed``: in each of the first ``sessions`` sessions,
        ``per_session`` faults, each one of ``actions`` just before the Nth event of one of
        ``event_types``, N from 1 to ``max_nth``. The same arguments draw the same plan
        (print it to see what a run injected).

        Raises:
            ConfigurationError: an argument of the wrong type or out of range.
        """
        check_number("seed", seed, integer=True)
        check_number("sessions", sessions, integer=True, positive=True)
        check_number("per_session", per_session, integer=True, positive=True)
        check_number("max_nth", max_nth, integer=True, positive=True)
        if not event_types or not actions:
            raise ConfigurationError("expected at least one event type and one action for "
                                     f"FaultPlan.random, got {list(event_types)!r} and "
                                     f"{list(actions)!r}", argument="event_types")
        rng = random.Random(seed)
        return cls([Fault(rng.choice(list(actions)), before=rng.choice(list(event_types)),
                          nth=rng.randint(1, max_nth), session=session)
                    for session in range(1, sessions + 1) for _ in range(per_session)])

    def for_session(self, number: int, started_at: float) -> SessionFaults:
        """The plan applied to the ``number``-th session (1-based), started at
        ``started_at`` on the clock the session runs on."""
        return SessionFaults([f for f in self.faults if f.applies_to(number)], started_at)


def ends_connection(action: FaultAction) -> bool:
    """Whether performing ``action`` ends the connection (nothing is sent after it)."""
    return isinstance(action, _DROPS_CONNECTION) and not (
        isinstance(action, Garble) and action.how == "invalid_json")


class SessionFaults:
    """A plan's faults for one session, sans-I/O: which actions are due before each event
    and at each moment. The serve loop asks, in order, and performs what it is told.

    Args:
        faults: the faults that apply to this session, in the plan's order.
        started_at: when the session started, on the clock ``now`` is read from.
    """

    def __init__(self, faults: Sequence[Fault], started_at: float) -> None:
        self._by_event: dict[str, list[Fault]] = collections.defaultdict(list)
        self._timed: list[Fault] = []
        for fault in faults:
            if fault.before is not None:
                self._by_event[fault.before].append(fault)
            else:
                self._timed.append(fault)
        self._started_at = started_at
        self._sent: collections.Counter[str] = collections.Counter()
        self.fired: list[Fault] = []
        """Every fault fired so far, in order."""

    def __bool__(self) -> bool:
        return bool(self._by_event) or bool(self._timed)

    def before_send(self, event_type: str, now: float) -> list[FaultAction]:
        """The actions due just before an event of ``event_type`` is sent: the timed ones
        due by ``now`` first, then those waiting for this occurrence of the type. The event
        counts as sent (to count the next occurrence) whatever the actions do with it."""
        due = self.due(now)
        self._sent[event_type] += 1
        waiting = self._by_event.get(event_type)
        if waiting:
            nth = self._sent[event_type]
            for fault in [f for f in waiting if f.nth == nth]:
                waiting.remove(fault)
                self.fired.append(fault)
                due.append(fault.action)
        return due

    def due(self, now: float) -> list[FaultAction]:
        """The timed actions due by ``now``, each returned once."""
        due = [f for f in self._timed if self._started_at + (f.after or 0.0) <= now]
        for fault in due:
            self._timed.remove(fault)
            self.fired.append(fault)
        return [fault.action for fault in due]

    def next_deadline(self) -> float | None:
        """When the next timed fault is due; ``None`` when none is left."""
        if not self._timed:
            return None
        return self._started_at + min(f.after or 0.0 for f in self._timed)
