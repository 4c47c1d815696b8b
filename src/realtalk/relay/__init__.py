"""The relay: a realtime backend that browser and mobile clients talk to.

It stands between clients and a provider (OpenAI, Azure, the embedded server), speaking the
realtime protocol on both sides, so any realtime client can use it::

    from realtalk import providers
    from realtalk.relay import RelayOptions, RelayServer, TokenAuthenticator, TokenSigner

    signer = TokenSigner(os.environ["REALTALK_RELAY_SECRET"])
    relay = RelayServer(providers.openai(), TokenAuthenticator(signer),
                        options=RelayOptions(host="0.0.0.0", port=8780))
    await relay.serve_forever()

    # in the app's backend, per user session:
    token = signer.mint(new_session_id(), ttl=300, subject=user_id)

- the provider's credentials never leave the relay (nor reach a log record);
- clients authenticate with short-lived signed session tokens (:mod:`.tokens`) or an app's
  callback (:mod:`.auth`), and can act only on their own session (:mod:`.ownership`);
- a policy decides which client events pass (:mod:`.policy`), within size, rate and
  concurrency limits (:mod:`.limits`); refusals are ``error`` events;
- upstream failures reach the client as ``error`` events, then its connection is closed or a
  new upstream session opened (:mod:`.session`);
- every hop is stamped, and the metrics are served as JSON (:mod:`.metrics`);
- the relay can own function tools: declared upstream, run on the backend, their calls hidden
  from clients (:mod:`.tools`).

The modules: :mod:`.server` (the WebSocket server and its handshake), :mod:`.session` (one
client's pumps), :mod:`.frames` (parsing frames safely, error events), :mod:`.web` (static
files, and the browser client), :mod:`.cli` (``realtalk relay``); log scrubbing is
:mod:`realtalk.transport.redact`.
"""

from __future__ import annotations

from .auth import (
    AuthCallback,
    Authenticator,
    CallbackAuthenticator,
    HandshakeRequest,
    TokenAuthenticator,
)
from .errors import AuthenticationError, RelayError, TokenError
from .frames import Refusal
from .limits import RateLimiter, RelayLimits
from .metrics import LatencySummary, MetricsSnapshot, RelayedEvent, RelayMetrics
from .options import RelayOptions, UpstreamLoss
from .ownership import IdRegistry, SessionOwnership
from .policy import APP_OWNED_FIELDS, CLIENT_EVENT_TYPES, ClientFrame, EventPolicy, Policy
from .server import RelayServer
from .session import ClientConnection, EventHook, RelaySession
from .tokens import SessionClaims, TokenSigner, new_session_id
from .tools import RelayTools

__all__ = (
    # server
    "RelayServer",
    "RelayOptions",
    "UpstreamLoss",
    "RelaySession",
    "ClientConnection",
    "EventHook",
    # authentication
    "TokenSigner",
    "SessionClaims",
    "new_session_id",
    "Authenticator",
    "TokenAuthenticator",
    "CallbackAuthenticator",
    "AuthCallback",
    "HandshakeRequest",
    # policy and limits
    "Policy",
    "EventPolicy",
    "ClientFrame",
    "Refusal",
    "CLIENT_EVENT_TYPES",
    "APP_OWNED_FIELDS",
    "RelayLimits",
    "RateLimiter",
    "IdRegistry",
    "SessionOwnership",
    # tools
    "RelayTools",
    # metrics
    "RelayMetrics",
    "MetricsSnapshot",
    "LatencySummary",
    "RelayedEvent",
    # errors
    "RelayError",
    "AuthenticationError",
    "TokenError",
)
