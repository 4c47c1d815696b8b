"""How a relay behaves: addresses, limits, policy, upstream failure handling, HTTP extras."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs

from .._args import check_choice, check_number, validator
from .limits import RelayLimits, positive
from .policy import EventPolicy, Policy

__all__ = ("RelayOptions", "UpstreamLoss", "DEFAULT_PATHS")

#: What happens to a client whose upstream connection fails: its connection is closed
#: (``"close"``), or a new upstream session is opened for it (``"reconnect"``).
UpstreamLoss = Literal["close", "reconnect"]

#: The WebSocket paths clients connect to: the OpenAI form (what the ``openai`` client builds
#: from ``base_url="http://HOST:PORT/v1"``) and the Azure GA form.
DEFAULT_PATHS = ("/v1/realtime", "/openai/v1/realtime")


@attrs.frozen(kw_only=True)
class RelayOptions:
    """Relay settings.

    Attributes:
        host, port: where to listen (port 0 picks a free one).
        paths: the WebSocket paths clients may connect to.
        limits: size, rate and concurrency limits.
        policy: which client events pass (default :class:`~.policy.EventPolicy`).
        on_upstream_loss: ``"close"`` or ``"reconnect"`` (see :data:`UpstreamLoss`). A
            reconnect starts a new upstream session: the client is told with an ``error``
            event and then receives the new ``session.created``; the relay replays the
            client's last accepted ``session.update`` to it, then the conversation's context
            (:attr:`RelaySession.context <realtalk.relay.RelaySession.context>`).
        reconnect_attempts: upstream connection attempts after a loss before giving up.
        reconnect_delay: seconds before the first reconnect attempt (doubling after each).
        upstream_first_event_timeout: seconds for a new upstream connection to send its first
            event (``session.created``); the connection itself is bounded by the provider's
            own open timeout.
        upstream_send_timeout: seconds a frame may take to be accepted by the upstream
            connection before the upstream counts as failed (a stalled upstream).
        client_send_timeout: seconds a frame may take to be accepted by the client connection
            before the client counts as too slow and is disconnected (close code 1008).
        upstream_close_timeout: seconds allowed for an upstream connection's closing
            handshake (a stalled upstream may never answer it).
        show_tool_calls: whether clients see the calls of the relay's own tools (see
            :mod:`~.tools`): their items, arguments and outputs. Off by default: clients see
            the responses that made them, without them.
        allowed_origins: if set, browsers' ``Origin`` must be one of these.
        web_root: a directory served over plain HTTP on the same port (the browser client:
            see :func:`~.web.browser_client`).
        demo_tokens: serve ``GET /demo-token``, minting a token for a fresh session. Only
            for demos on loopback: anyone who can reach it gets a session.
        metrics_path: where ``GET`` serves the metrics as JSON; ``None`` turns it off.
        health_path: where ``GET`` answers ``ok`` for load balancer health checks.
        ping_interval: seconds between WebSocket pings to clients (keeps idle connections
            alive through load balancers); ``None`` disables.
        loop_lag_interval: seconds between event loop lag probes; ``None`` disables.
    """

    host: str = "127.0.0.1"
    port: int = 0
    paths: tuple[str, ...] = DEFAULT_PATHS
    limits: RelayLimits = attrs.field(factory=RelayLimits)
    policy: Policy = attrs.field(factory=EventPolicy)
    on_upstream_loss: UpstreamLoss = attrs.field(
        default="close", validator=validator(check_choice, ("close", "reconnect")))
    reconnect_attempts: int = attrs.field(
        default=3, validator=validator(check_number, integer=True, minimum=0))
    reconnect_delay: float = attrs.field(default=0.5, validator=validator(check_number,
                                                                           minimum=0))
    upstream_first_event_timeout: float = attrs.field(default=10.0, validator=positive)
    upstream_send_timeout: float = attrs.field(default=5.0, validator=positive)
    client_send_timeout: float = attrs.field(default=5.0, validator=positive)
    upstream_close_timeout: float = attrs.field(default=5.0, validator=positive)
    show_tool_calls: bool = False
    allowed_origins: tuple[str, ...] | None = None
    web_root: Path | None = None
    demo_tokens: bool = False
    metrics_path: str | None = "/metrics"
    health_path: str = "/healthz"
    ping_interval: float | None = 20.0
    loop_lag_interval: float | None = 0.01
