"""The embedded realtime server: a local stand-in for OpenAI / Azure OpenAI Realtime.

- :class:`RealtimeServer`: the WebSocket server (in the caller's asyncio or trio loop, or in a
  thread from anywhere).
- :class:`ServerSession`: its protocol logic, sans-I/O (frames and ``now`` in, events out).
- :class:`SyntheticVoice`: speech-like audio for the replies; :class:`ServerVad`: turn detection.
- :class:`Responder` / :class:`Transcriber`: what the server says and hears (scripted defaults).
- :class:`FaultPlan`: faults to inject (drops, stalls, broken frames, error events, refused
  handshakes), for testing how a client copes (:mod:`.faults`).

The I/O shell (:mod:`.app`, which needs websockets and anyio) is imported on first use, so the
sans-I/O parts can be imported without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._renamed import resolve
from .faults import Drop, Fault, FaultAction, FaultPlan, Garble, SendError, SessionFaults, Stall
from .responder import (
    DEFAULT_REPLIES,
    ConversationTurn,
    PlaceholderTranscriber,
    Responder,
    ScriptedResponder,
    ScriptedTranscriber,
    Transcriber,
)
from .session import (
    DEFAULT_TURN_DETECTION,
    SENT_SERVER_EVENTS,
    SUPPORTED_CLIENT_EVENTS,
    ServerOptions,
    ServerSession,
    ServerStats,
    sent_event_types,
)
from .vad import ServerVad, VadEvent, VadSpeechStarted, VadSpeechStopped, threshold_to_dbfs
from .voice import SpeechAudio, SyntheticVoice, WordTiming

if TYPE_CHECKING:
    from .app import ClientEventHook, RealtimeServer

__all__ = (
    # server
    "RealtimeServer",
    "ClientEventHook",
    # protocol logic
    "ServerSession",
    "ServerOptions",
    "ServerStats",
    "DEFAULT_TURN_DETECTION",
    "SUPPORTED_CLIENT_EVENTS",
    "SENT_SERVER_EVENTS",
    "sent_event_types",
    # faults
    "FaultPlan",
    "Fault",
    "FaultAction",
    "Drop",
    "Stall",
    "Garble",
    "SendError",
    "SessionFaults",
    # what it says and hears
    "Responder",
    "ScriptedResponder",
    "DEFAULT_REPLIES",
    "Transcriber",
    "ScriptedTranscriber",
    "PlaceholderTranscriber",
    "ConversationTurn",
    # audio
    "SyntheticVoice",
    "SpeechAudio",
    "WordTiming",
    "ServerVad",
    "VadEvent",
    "VadSpeechStarted",
    "VadSpeechStopped",
    "threshold_to_dbfs",
)


#: Old names kept for one release; "SessionStats" read as the client core's counters.
_RENAMED = {"SessionStats": ("realtalk.server", "ServerStats")}


def __getattr__(name: str) -> Any:
    if name in ("RealtimeServer", "ClientEventHook"):
        from . import app

        return getattr(app, name)
    return resolve(__name__, name, _RENAMED)
