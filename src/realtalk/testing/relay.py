"""Fakes for the relay's interfaces: a client connection in memory, a policy that refuses what
it is told to, and an authenticator that admits (or refuses) everyone; each records its calls."""

from __future__ import annotations

from collections.abc import Collection
from typing import Generic, TypeVar

import anyio
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from .._args import bad_argument, check_type
from ..relay import (
    AuthenticationError,
    ClientFrame,
    HandshakeRequest,
    Refusal,
    SessionClaims,
    new_session_id,
)
from ..relay.frames import EVENT_NOT_ALLOWED

__all__ = ("MemoryClientConnection", "ScriptedPolicy", "RecordingAuthenticator")

T = TypeVar("T")

_NORMAL_CLOSURE = 1000
_GOING_AWAY = 1001


class _Mailbox(Generic[T]):
    """Messages one way: read in order, then, once closed and read out, the end."""

    def __init__(self) -> None:
        self.messages: list[T] = []
        self.closed = False
        self._read = 0
        self._arrived: anyio.Event | None = None  # made by a waiting reader, in its loop

    def put(self, message: T) -> None:
        self.messages.append(message)
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    async def get(self) -> T | None:
        """The next message, or ``None`` once closed and read out."""
        while self._read == len(self.messages):
            if self.closed:
                return None
            self._arrived = anyio.Event()
            await self._arrived.wait()
        self._read += 1
        return self.messages[self._read - 1]

    def _wake(self) -> None:
        if self._arrived is not None:
            self._arrived.set()


class MemoryClientConnection:
    """A relay client in memory: a :class:`~realtalk.relay.ClientConnection` for
    :class:`~realtalk.relay.RelaySession`, with the client's side for the test.

    The test plays the client with :meth:`deliver` (a frame for the relay to read),
    :meth:`next_message` (the next frame the relay sent) and :meth:`hang_up`. Frames already
    sent can still be read after either side closed; then the relay's ``recv`` and ``send``
    raise websockets' ``ConnectionClosed``, as a real connection's do.
    """

    def __init__(self) -> None:
        self._to_relay = _Mailbox[str | bytes]()
        self._to_client = _Mailbox[str]()
        self.close_code: int | None = None
        """The close code: the relay's (:meth:`close`) or the client's (:meth:`hang_up`)."""
        self.close_reason = ""
        self.closed_by_relay = False

    @property
    def sent(self) -> list[str]:
        """Every frame the relay sent, in order."""
        return self._to_client.messages

    # -- the relay's side (ClientConnection) ---------------------------------------------------

    async def recv(self) -> str | bytes:
        """The client's next frame."""
        message = await self._to_relay.get()
        if message is None:
            raise self._closed()
        return message

    async def send(self, message: str) -> None:
        """Pass ``message`` to the client."""
        if self.close_code is not None:
            raise self._closed()
        self._to_client.put(message)

    async def close(self, code: int = _NORMAL_CLOSURE, reason: str = "") -> None:
        """The relay closes the connection (idempotent: the first code stays)."""
        if self.close_code is None:
            self.closed_by_relay = True
            self._end(code, reason)

    # -- the client's side (the test) ----------------------------------------------------------

    def deliver(self, message: str | bytes) -> None:
        """The client sends ``message`` to the relay.

        Raises:
            websockets.exceptions.ConnectionClosed: the connection is closed, as a real
                client's send would.
        """
        if self.close_code is not None:
            raise self._closed()
        self._to_relay.put(message)

    async def next_message(self) -> str:
        """The next frame the relay sent to the client.

        Raises:
            anyio.EndOfStream: the connection closed and every frame was read.
        """
        message = await self._to_client.get()
        if message is None:
            raise anyio.EndOfStream
        return message

    def hang_up(self, code: int = _GOING_AWAY, reason: str = "") -> None:
        """The client disconnects."""
        if self.close_code is None:
            self._end(code, reason)

    def _end(self, code: int, reason: str) -> None:
        self.close_code, self.close_reason = code, reason
        self._to_relay.close()
        self._to_client.close()

    def _closed(self) -> ConnectionClosedOK | ConnectionClosedError:
        code = self.close_code if self.close_code is not None else _GOING_AWAY
        close = Close(code, self.close_reason)
        # Both close frames were exchanged; the side that closed first sent its frame first.
        kind = ConnectionClosedOK if code in (_NORMAL_CLOSURE, _GOING_AWAY) else \
            ConnectionClosedError
        return kind(close, close, rcvd_then_sent=not self.closed_by_relay)


class ScriptedPolicy:
    """A relay :class:`~realtalk.relay.Policy` that refuses the client event types it is
    given and forwards everything else, recording every frame it judged.

    Args:
        refuse: the event types to refuse (with ``event_not_allowed``, as the default policy
            refuses a type it does not allow).

    Raises:
        ConfigurationError: ``refuse`` is not a collection of event type strings.
    """

    def __init__(self, refuse: Collection[str] = ()) -> None:
        if isinstance(refuse, str) or not all(isinstance(t, str) for t in refuse):
            raise bad_argument("refuse", "a collection of client event types", refuse)
        self.refuse = frozenset(refuse)
        self.checked: list[ClientFrame] = []
        """Every frame judged, in order (audio included)."""
        self.refused: list[ClientFrame] = []
        """The frames refused."""

    def check(self, frame: ClientFrame) -> Refusal | None:
        """Refuse ``frame`` if its type is scripted to be refused."""
        self.checked.append(frame)
        if frame.type not in self.refuse:
            return None
        self.refused.append(frame)
        return Refusal(EVENT_NOT_ALLOWED, f"Client events of type {frame.type!r} are refused "
                       "by this relay's test policy.", param="type")


class RecordingAuthenticator:
    """A relay :class:`~realtalk.relay.Authenticator` that admits every client, or none, and
    keeps every handshake it saw in :attr:`requests`.

    Args:
        claims: the claims every admitted client gets; by default, a fresh session per
            client (the ``?session_id=`` it asked for, if any).
        refuse: refuse every client with this HTTP status (401 or 403) instead.

    Raises:
        ConfigurationError: ``claims`` is not ``SessionClaims`` or ``None``, or ``refuse``
            is not ``None``, 401 or 403.
    """

    def __init__(self, claims: SessionClaims | None = None, *,
                 refuse: int | None = None) -> None:
        check_type("claims", claims, (SessionClaims, type(None)), "SessionClaims or None")
        if refuse not in (None, 401, 403) or isinstance(refuse, bool):
            raise bad_argument("refuse", "None, 401 or 403", refuse)
        self.claims = claims
        self.refuse = refuse
        self.requests: list[HandshakeRequest] = []
        """Every handshake seen, in order (refused ones too)."""

    def __repr__(self) -> str:
        return f"RecordingAuthenticator(refuse={self.refuse!r})"

    async def authenticate(self, request: HandshakeRequest) -> SessionClaims:
        """Record ``request``; admit it with the configured claims.

        Raises:
            AuthenticationError: told to refuse every client.
        """
        self.requests.append(request)
        if self.refuse is not None:
            raise AuthenticationError("refused by the test authenticator", status=self.refuse)
        if self.claims is not None:
            return self.claims
        return SessionClaims(session_id=request.requested_session_id or new_session_id())
