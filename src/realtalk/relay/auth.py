"""Client authentication at the WebSocket handshake.

The relay reads the client's credential from the upgrade request, in this order:

1. ``Authorization: Bearer <token>`` (what the official ``openai`` client sends as its key);
2. an ``api-key: <token>`` header (Azure-style clients);
3. a WebSocket subprotocol ``realtalk-token.<token>`` or ``openai-insecure-api-key.<token>``
   (browsers cannot set headers on a WebSocket; they offer the token as a subprotocol, next to
   the plain ``realtalk`` or ``realtime`` protocol the relay selects).

Tokens are never read from the URL: URLs end up in proxy and load balancer access logs.
An optional ``?session_id=`` names the session the client expects; it must match the one the
credential grants.

An :class:`Authenticator` turns the request into :class:`~.tokens.SessionClaims` or raises
:class:`~.errors.AuthenticationError`. :class:`TokenAuthenticator` verifies the relay's own
signed tokens; :class:`CallbackAuthenticator` lets an app decide (a session cookie, its own
JWT, a database lookup), synchronously or not.
"""

from __future__ import annotations

import inspect
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Protocol

import attrs

from .errors import AuthenticationError, TokenError
from .tokens import SessionClaims, TokenSigner

__all__ = ("HandshakeRequest", "Authenticator", "TokenAuthenticator", "CallbackAuthenticator",
           "AuthCallback", "TOKEN_SUBPROTOCOLS", "APP_SUBPROTOCOLS", "CREDENTIAL_HEADERS")

#: Subprotocol prefixes that carry a credential (never selected, never logged).
TOKEN_SUBPROTOCOLS = ("realtalk-token.", "openai-insecure-api-key.")
#: The subprotocols the relay selects when a browser offers one of them, in preference order.
APP_SUBPROTOCOLS = ("realtalk", "realtime")
#: Request headers that carry credentials; they are left out of :attr:`HandshakeRequest.headers`.
CREDENTIAL_HEADERS = frozenset({"authorization", "api-key", "sec-websocket-protocol", "cookie"})


@attrs.frozen(kw_only=True, repr=False)
class HandshakeRequest:
    """A client's WebSocket upgrade request, as an authenticator sees it.

    Attributes:
        path: the URL path, without the query.
        query: the query parameters (first value of each).
        headers: the other request headers, names in lower case, credential headers left out.
        credential: the token the client presented, or ``None``.
        requested_session_id: the ``?session_id=`` the client asked for, or ``None``.
        remote_address: the peer's ``host:port`` (a load balancer's, behind one).
        cookies: the raw ``Cookie`` header, for apps that authenticate by session cookie.
    """

    path: str
    query: Mapping[str, str] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    credential: str | None = None
    requested_session_id: str | None = None
    remote_address: str | None = None
    cookies: str | None = None

    def __repr__(self) -> str:
        # No credential and no cookie: reprs end up in logs.
        presented = "present" if self.credential else "absent"
        return (f"HandshakeRequest(path={self.path!r}, session_id={self.requested_session_id!r}, "
                f"credential={presented}, remote={self.remote_address!r})")

    @classmethod
    def from_http(cls, target: str, headers: Iterable[tuple[str, str]],
                  remote_address: str | None = None) -> HandshakeRequest:
        """Build the request from the HTTP request target (path and query) and headers."""
        parts = urllib.parse.urlsplit(target)
        query: dict[str, str] = {}
        for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(name, value)
        plain: dict[str, str] = {}
        bearer = api_key = offered = cookies = None
        for name, value in headers:
            lower = name.lower()
            if lower == "authorization":
                scheme, _, rest = value.partition(" ")
                if scheme.lower() == "bearer" and rest.strip():
                    bearer = rest.strip()
            elif lower == "api-key":
                api_key = value.strip() or None
            elif lower == "sec-websocket-protocol":
                offered = _token_from_subprotocols(value) if offered is None else offered
            elif lower == "cookie":
                cookies = value
            elif lower not in CREDENTIAL_HEADERS:
                plain.setdefault(lower, value)
        return cls(
            path=parts.path,
            query=query,
            headers=plain,
            credential=bearer or api_key or offered,
            requested_session_id=query.get("session_id") or None,
            remote_address=remote_address,
            cookies=cookies,
        )


def _token_from_subprotocols(header: str) -> str | None:
    for raw in header.split(","):
        offered = raw.strip()
        for prefix in TOKEN_SUBPROTOCOLS:
            if offered.startswith(prefix) and len(offered) > len(prefix):
                return offered[len(prefix):]
    return None


class Authenticator(Protocol):
    """Decides who a connecting client is and which session it may act on."""

    async def authenticate(self, request: HandshakeRequest) -> SessionClaims:
        """The claims of an accepted client.

        Raises:
            AuthenticationError: refuse the handshake (HTTP ``status``: 401 or 403).
        """
        ...


class TokenAuthenticator:
    """Accepts clients presenting a valid token from :class:`~.tokens.TokenSigner`.

    Args:
        signer: verifies the tokens (holds the shared secret).
        clock: the Unix time source (tests pass a fixed one).
    """

    def __init__(self, signer: TokenSigner, *, clock: Callable[[], float] = time.time) -> None:
        self.signer = signer
        self._clock = clock

    def __repr__(self) -> str:
        return f"TokenAuthenticator({self.signer!r})"

    async def authenticate(self, request: HandshakeRequest) -> SessionClaims:
        """Verify the presented token (and that it is for ``?session_id=``, if given).

        Raises:
            TokenError: no token, or one the signer refuses.
        """
        if request.credential is None:
            raise TokenError("no session token presented (Authorization: Bearer, api-key "
                             "header, or a realtalk-token.<token> subprotocol)", reason="missing")
        return self.signer.verify(request.credential, session_id=request.requested_session_id,
                                  now=self._clock())


#: An app's decision: claims to accept, ``None`` to refuse (HTTP 401), sync or async.
AuthCallback = Callable[
    [HandshakeRequest], SessionClaims | Awaitable[SessionClaims | None] | None
]


class CallbackAuthenticator:
    """Lets the app decide, with ``callback(request)``.

    The callback returns :class:`~.tokens.SessionClaims` to accept, ``None`` to refuse with
    HTTP 401, or raises :class:`~.errors.AuthenticationError` to pick the status. It may be a
    coroutine function.
    """

    def __init__(self, callback: AuthCallback) -> None:
        self._callback = callback

    def __repr__(self) -> str:
        return f"CallbackAuthenticator({getattr(self._callback, '__qualname__', 'callback')})"

    async def authenticate(self, request: HandshakeRequest) -> SessionClaims:
        """Ask the callback.

        Raises:
            AuthenticationError: the callback refused (returned ``None`` or raised it).
        """
        result = self._callback(request)
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            raise AuthenticationError("the application refused the client")
        if not isinstance(result, SessionClaims):
            raise TypeError(
                f"auth callback must return SessionClaims or None, got {type(result).__name__}"
            )
        return result
