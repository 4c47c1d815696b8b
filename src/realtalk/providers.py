"""Providers: where a :class:`~realtalk.Conversation` connects.

- :func:`openai` -- OpenAI Realtime (GA).
- :func:`azure` -- Azure OpenAI Realtime, GA (``/openai/v1/realtime``) or preview
  (``/openai/realtime?api-version=...``, beta protocol shape).
- :func:`local` -- the embedded realtime server on loopback: no key, no network.
- :func:`endpoint` -- any compatible server, given its URL and headers.

A provider's :meth:`~Provider.connect` is an async context manager that yields a connected
:class:`~realtalk.transport.Transport` and closes it (and, for :func:`local`, stops the server)
on exit. The WebSocket providers watch the connection with keepalive pings
(``keepalive=``, a :class:`~realtalk.transport.Keepalive`; ``None`` for none): a server that
falls silent ends the conversation with a :class:`~realtalk.errors.KeepaliveTimeout` instead
of leaving it waiting.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import anyio.to_thread
import attrs

from ._args import bad_argument, check_choice, check_methods, check_number, check_type, validator
from .session_config import WireShape
from .transport import (
    DEFAULT_KEEPALIVE,
    Endpoint,
    Keepalive,
    Transport,
    azure_endpoint,
    connect_websocket,
    openai_endpoint,
)

if TYPE_CHECKING:
    from .server import FaultPlan, RealtimeServer, Responder, Transcriber

__all__ = ("Provider", "RemoteProvider", "LocalProvider", "openai", "azure", "local", "endpoint")


class Provider(Protocol):
    """Something a conversation can connect to."""

    @property
    def shape(self) -> WireShape:
        """The protocol shape the provider speaks (``"ga"`` or ``"beta"``)."""
        ...

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        """Connect; the context manager yields the transport and closes it on exit."""
        ...


_KEEPALIVE_TYPES = (Keepalive, type(None))
_KEEPALIVE_EXPECTED = "a realtalk.transport.Keepalive or None"


@attrs.frozen
class RemoteProvider:
    """A realtime server reached over WebSocket at :attr:`endpoint`, opened within
    :attr:`open_timeout` seconds and watched with :attr:`keepalive` pings (``None``: none)."""

    endpoint: Endpoint = attrs.field(validator=validator(
        check_type, Endpoint, "an Endpoint (see realtalk.transport)"))
    open_timeout: float = attrs.field(default=10.0,
                                      validator=validator(check_number, positive=True))
    keepalive: Keepalive | None = attrs.field(
        default=DEFAULT_KEEPALIVE,
        validator=validator(check_type, _KEEPALIVE_TYPES, _KEEPALIVE_EXPECTED))

    @property
    def shape(self) -> WireShape:
        """The endpoint's protocol shape."""
        return self.endpoint.shape

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        """Open the WebSocket (see :func:`~realtalk.transport.connect_websocket`)."""
        return connect_websocket(self.endpoint, open_timeout=self.open_timeout,
                                 keepalive=self.keepalive)


class LocalProvider:
    """The embedded realtime server, started on loopback for each connection.

    The server runs on its own thread and event loop, so it works the same whether the
    conversation runs on asyncio or trio, and its work never delays the conversation's.
    ``server_options`` go to :class:`~realtalk.server.RealtimeServer` (``faults=`` a
    :class:`~realtalk.server.FaultPlan` among them). After :meth:`connect` has entered,
    :attr:`server` is the running server (for its statistics). ``keepalive`` watches the
    connection as for a remote server.
    """

    shape: WireShape = "ga"

    def __init__(self, *, keepalive: Keepalive | None = DEFAULT_KEEPALIVE,
                 **server_options: Any) -> None:
        check_type("keepalive", keepalive, _KEEPALIVE_TYPES, _KEEPALIVE_EXPECTED)
        self.keepalive = keepalive
        self.server_options = server_options
        self.server: RealtimeServer | None = None

    def __repr__(self) -> str:
        return f"LocalProvider({', '.join(sorted(self.server_options))})"

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Transport]:
        from .server import RealtimeServer

        server = RealtimeServer(**self.server_options)
        runner = server.running_in_thread()
        await anyio.to_thread.run_sync(runner.__enter__)
        self.server = server
        try:
            url = f"{server.url}?model={server.options.model}"
            async with connect_websocket(Endpoint(url=url),
                                         keepalive=self.keepalive) as transport:
                yield transport
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(runner.__exit__, None, None, None)

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        """Start the server and connect to it."""
        return self._connect()


def openai(
    *, model: str = "gpt-realtime", api_key: str | None = None, base_url: str | None = None,
    keepalive: Keepalive | None = DEFAULT_KEEPALIVE,
) -> RemoteProvider:
    """OpenAI Realtime. See :func:`~realtalk.transport.openai_endpoint` for the arguments;
    ``keepalive`` watches the connection (see the module docstring).

    Raises:
        ConfigurationError: an argument of the wrong type, no key, or a malformed URL.
    """
    _check_name("model", model)
    _check_optional_strings(base_url=base_url)
    _check_optional_strings(api_key=api_key, secret=True)
    return RemoteProvider(openai_endpoint(model=model, api_key=api_key, base_url=base_url),
                          keepalive=keepalive)


def azure(
    *,
    deployment: str,
    endpoint: str | None = None,
    api_key: str | None = None,
    token: str | None = None,
    api_version: str | None = None,
    base_url: str | None = None,
    keepalive: Keepalive | None = DEFAULT_KEEPALIVE,
) -> RemoteProvider:
    """Azure OpenAI Realtime. See :func:`~realtalk.transport.azure_endpoint`; ``keepalive``
    watches the connection (see the module docstring).

    Raises:
        ConfigurationError: an argument of the wrong type, no endpoint or credential, both a
            key and a token, or a malformed URL.
    """
    _check_name("deployment", deployment)
    _check_optional_strings(endpoint=endpoint, api_version=api_version, base_url=base_url)
    _check_optional_strings(api_key=api_key, token=token, secret=True)
    return RemoteProvider(azure_endpoint(
        deployment=deployment, endpoint=endpoint, api_key=api_key, token=token,
        api_version=api_version, base_url=base_url,
    ), keepalive=keepalive)


def local(
    *,
    first_audio_latency_ms: float = 250.0,
    generation_speed: float = 4.0,
    chunk_ms: int = 100,
    responder_factory: Callable[[], Responder] | None = None,
    transcriber_factory: Callable[[], Transcriber] | None = None,
    on_client_event: Callable[[float, str], None] | None = None,
    faults: FaultPlan | None = None,
    keepalive: Keepalive | None = DEFAULT_KEEPALIVE,
) -> LocalProvider:
    """The embedded realtime server on loopback (no key, no network).

    Args:
        first_audio_latency_ms: delay before a response's first audio.
        generation_speed: how much faster than real time audio is generated.
        chunk_ms: audio per delta.
        responder_factory: builds what the server says (default: scripted replies).
        transcriber_factory: builds what the server "hears" (default: a placeholder that
            states the length of the user's speech; the server has no speech recognition).
        on_client_event: called with ``(time.perf_counter(), type)`` for each client event
            the server receives (benchmarks use it).
        faults: faults for the server to inject (:class:`~realtalk.server.FaultPlan`).
        keepalive: keepalive pings on the connection (see the module docstring).

    Raises:
        ConfigurationError: an argument of the wrong type or out of range.
    """
    from .server import FaultPlan, ServerOptions

    check_type("faults", faults, (FaultPlan, type(None)), "a FaultPlan or None")
    check_number("first_audio_latency_ms", first_audio_latency_ms, minimum=0.0)
    check_number("generation_speed", generation_speed, positive=True)
    check_number("chunk_ms", chunk_ms, integer=True, positive=True)
    for name, function in (("responder_factory", responder_factory),
                           ("transcriber_factory", transcriber_factory),
                           ("on_client_event", on_client_event)):
        check_methods(name, function, ("__call__",), "a callable or None", optional=True)

    options: dict[str, Any] = {
        "options": ServerOptions(first_audio_latency_ms=first_audio_latency_ms,
                                 generation_speed=generation_speed, chunk_ms=chunk_ms),
        "on_client_event": on_client_event,
    }
    if faults is not None:
        options["faults"] = faults
    if responder_factory is not None:
        options["responder_factory"] = responder_factory
    if transcriber_factory is not None:
        options["transcriber_factory"] = transcriber_factory
    return LocalProvider(keepalive=keepalive, **options)


def endpoint(url: str, *, headers: Mapping[str, str] | None = None,
             shape: WireShape = "ga",
             keepalive: Keepalive | None = DEFAULT_KEEPALIVE) -> RemoteProvider:
    """Any compatible realtime server at ``url`` (``ws://`` or ``wss://``), with ``headers``
    on the upgrade request (authentication goes there), speaking the ``shape`` protocol, and
    watched with ``keepalive`` pings (see the module docstring).

    Raises:
        ConfigurationError: a URL that is not ``ws(s)://host...``, headers that are not a
            mapping of strings to strings, or an unknown shape.
    """
    check_type("url", url, str, "a ws:// or wss:// URL")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        # Shown with its credential-looking query parameters masked.
        raise bad_argument("url", "a ws:// or wss:// URL with a host", Endpoint(url=url).safe_url)
    check_type("headers", headers, (Mapping, type(None)), "a mapping of header names to "
               "values, or None")
    for name, value in (headers or {}).items():
        check_type("headers", name, str, "header names that are strings")
        check_type(f"headers[{name!r}]", value, str, "a string", secret=True)
    check_choice("shape", shape, ("ga", "beta"))
    return RemoteProvider(Endpoint(url=url, headers=dict(headers or {}), shape=shape),
                          keepalive=keepalive)


def _check_name(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise bad_argument(name, "a non-empty string", value)


def _check_optional_strings(*, secret: bool = False, **arguments: object) -> None:
    # A credential's value never goes into the message, only its type.
    for name, value in arguments.items():
        check_type(name, value, (str, type(None)), "a string or None", secret=secret)
