"""The one exception tree of realtalk.

Every error the library raises on purpose derives from :class:`RealtalkError`, so an
application can catch by *cause*::

    RealtalkError
    ├── ConfigurationError        bad arguments: missing credentials, wrong sample rate, ...
    ├── ProtocolError             a realtime protocol rule was broken
    │   ├── LocalProtocolError    this side did something illegal (e.g. a bad state transition)
    │   └── RemoteProtocolError   the peer sent something illegal
    │       └── EventParseError   a frame that is not valid JSON or has a bad field
    ├── TransportError            the connection itself failed
    │   ├── ConnectError          could not connect (refused, bad URL, handshake rejected)
    │   └── ConnectionClosed      the connection closed (``code``, ``reason``)
    │       └── KeepaliveTimeout  the peer fell silent: no pong, nothing, after a ping
    ├── AudioError                invalid audio (odd byte count, NaN, wrong rate)
    ├── ConversationClosed        the conversation was used after it ended
    ├── RelayError                (realtalk.relay) the relay refused or failed
    │   └── AuthenticationError   a client could not be authenticated
    │       └── TokenError        a session token is malformed, tampered with or expired
    └── TranscriptStoreError      (realtalk.transcripts) a transcript could not be stored or read

The last two branches live in their own modules, which only load when used.

Lower-layer exceptions (websockets, anyio, OSError) are mapped at the boundary with
``raise ... from exc``; none of them escapes the public API.

Nor does an exception group: what fails inside a conversation's tasks (or in the body of its
``async with``) reaches the app as the exception itself, so ``except realtalk.AudioError``
works. When several fail together, the first realtalk error is raised and the others are
listed in its ``__notes__`` (:func:`unwrap_group` has the rule).

Messages name the bad value and what was expected, and never contain credentials.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

if sys.version_info < (3, 11):
    # The backport anyio itself depends on before Python 3.11: no dependency of realtalk's own.
    from exceptiongroup import BaseExceptionGroup

__all__ = (
    "RealtalkError",
    "ConfigurationError",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "EventParseError",
    "TransportError",
    "ConnectError",
    "ConnectionClosed",
    "KeepaliveTimeout",
    "AudioError",
    "ConversationClosed",
)


class RealtalkError(Exception):
    """Root of every exception realtalk raises on purpose."""


class ConfigurationError(RealtalkError, ValueError):
    """An argument or environment setting is missing or invalid.

    Attributes:
        argument: the name of the argument to blame (``"cancel_timeout"``), when there is
            one.
    """

    def __init__(self, message: str, *, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


class ProtocolError(RealtalkError):
    """A rule of the realtime protocol or of the session state machine was broken."""


class LocalProtocolError(ProtocolError):
    """This side asked for something the protocol or the state machine does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""


class EventParseError(RemoteProtocolError):
    """A frame could not be parsed into an event.

    Attributes:
        event_type: the frame's ``type`` if it could be read, else ``None``.
        field: the dotted path of the offending field (``"response.status"``), or ``None``
            when the frame as a whole was unreadable.
    """

    def __init__(self, message: str, *, event_type: str | None = None, field: str | None = None):
        super().__init__(message)
        self.event_type = event_type
        self.field = field


class TransportError(RealtalkError):
    """The connection to the realtime server failed."""


class ConnectError(TransportError):
    """The connection could not be opened."""


class ConnectionClosed(TransportError):
    """The connection was closed, by the peer or by the network.

    Attributes:
        code: the WebSocket close code, or ``None`` if the connection dropped without one.
        reason: the close reason sent by the peer (may be empty).
    """

    def __init__(self, message: str, *, code: int | None = None, reason: str = ""):
        super().__init__(message)
        self.code = code
        self.reason = reason


class KeepaliveTimeout(ConnectionClosed):
    """The peer fell silent: after a keepalive ping, neither its pong nor any other data came
    within the timeout, so the connection was closed as lost (this side sent ``code`` 1011,
    ``reason`` ``"keepalive ping timeout"``).

    Attributes:
        timeout: the seconds of silence allowed after a ping.
    """

    def __init__(self, message: str, *, timeout: float):
        super().__init__(message, code=1011, reason="keepalive ping timeout")
        self.timeout = timeout


class AudioError(RealtalkError, ValueError):
    """Audio data is malformed or in the wrong format."""


class ConversationClosed(RealtalkError):
    """The conversation was used after it was closed (by your code)."""


def unwrap_group(group: BaseExceptionGroup[BaseException], *, own: BaseException | None = None,
                 cancelled: type[BaseException] | None = None) -> BaseException | None:
    """The one exception to raise in place of ``group``, an exception group out of a task
    group; ``None`` when the group holds only cancellations (re-raise it as it is, so the
    cancel scope it belongs to can absorb it).

    The group's leaves are read through nested groups, except ``own`` (what the app's own
    code raised, an exception group of its own included), which is kept whole; cancellations
    (``cancelled``, the event loop's class) are left out, as a cancel scope drops them when
    a real error travels with them. Of the rest, a ``KeyboardInterrupt`` or ``SystemExit``
    comes first, then the first :class:`RealtalkError`, then the first leaf; every other
    leaf is named in a note on it (``also raised: TypeName: message``).
    """
    leaves = list(dict.fromkeys(_leaves(group, own, cancelled)))
    if not leaves:
        return None
    primary = next((e for e in leaves if not isinstance(e, Exception)),
                   next((e for e in leaves if isinstance(e, RealtalkError)), leaves[0]))
    for other in leaves:
        if other is not primary:
            _add_note(primary, f"also raised: {type(other).__name__}: {other}")
    return primary


def _leaves(error: BaseException, own: BaseException | None,
            cancelled: type[BaseException] | None) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup) and error is not own:
        for inner in error.exceptions:
            yield from _leaves(inner, own, cancelled)
    elif cancelled is None or not isinstance(error, cancelled):
        yield error


def _add_note(error: BaseException, note: str) -> None:
    if sys.version_info >= (3, 11):
        error.add_note(note)
    else:  # the exceptiongroup backport prints __notes__ the same way
        error.__notes__ = [*getattr(error, "__notes__", ()), note]
