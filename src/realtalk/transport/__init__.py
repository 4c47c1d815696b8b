"""Transports: the Transport protocol, the WebSocket client (and the host the embedded server
and the relay serve on, :mod:`.host`), and an in-memory pair."""

from .base import Transport
from .endpoints import (
    AZURE_PREVIEW_API_VERSION,
    DEFAULT_OPENAI_BASE_URL,
    Endpoint,
    azure_endpoint,
    openai_endpoint,
)
from .memory import MemoryTransport, memory_transport_pair
from .websocket import DEFAULT_KEEPALIVE, Keepalive, WebSocketTransport, connect_websocket

__all__ = (
    "Transport",
    "Endpoint",
    "openai_endpoint",
    "azure_endpoint",
    "DEFAULT_OPENAI_BASE_URL",
    "AZURE_PREVIEW_API_VERSION",
    "WebSocketTransport",
    "Keepalive",
    "DEFAULT_KEEPALIVE",
    "connect_websocket",
    "MemoryTransport",
    "memory_transport_pair",
)
