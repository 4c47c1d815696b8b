"""realtalk: interruptible, full-duplex voice conversations with realtime speech models.

::

    import realtalk

    async with realtalk.Conversation(realtalk.providers.local(), input=mic, output=speaker) as conv:
        async for event in conv.events():
            match event:
                case realtalk.UserTranscript(text=text): print("you:", text)
                case realtalk.AssistantTranscript(text=text): print("ai:", text)
                case realtalk.Interrupted(latency=lat): print("stopped in", lat.stop_ms, "ms")
"""

from typing import Any

from . import audio, echo, providers, session, tools, transcripts, transport, vad, wire
from ._renamed import resolve
from .conversation import AppEvent, Conversation
from .echo import EchoDefences, EchoRiskChange, EchoTranscriptDropped
from .errors import (
    AudioError,
    ConfigurationError,
    ConnectError,
    ConnectionClosed,
    ConversationClosed,
    EventParseError,
    KeepaliveTimeout,
    LocalProtocolError,
    ProtocolError,
    RealtalkError,
    RemoteProtocolError,
    TransportError,
)
from .reconnect import LostResponse, Reconnect, Reconnected, Reconnecting
from .rollover import RolledOver
from .session import (
    AssistantTranscript,
    AssistantTranscriptDelta,
    Backchannel,
    ConversationEvent,
    ErrorOccurred,
    Evidence,
    FalseInterruption,
    Interrupted,
    InterruptionClassifier,
    InterruptionDecided,
    InterruptionLatency,
    LexiconClassifier,
    OtherServerEvent,
    PlaybackPosition,
    ResponseAudioStarted,
    ResponseFinished,
    ResponseStarted,
    State,
    StateChanged,
    Truncated,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
    Verdict,
)
from .session.barge_in import BargeIn
from .session_config import SessionConfig, TurnDetection
from .tools import Tool, ToolCall, ToolCallCancelled, ToolCallFinished, ToolCallStarted, tool

__version__ = "0.1.0.dev0"

__all__ = (
    "__version__",
    # modules
    "audio",
    "echo",
    "providers",
    "session",
    "tools",
    "transcripts",
    "transport",
    "vad",
    "wire",
    # the conversation
    "Conversation",
    "AppEvent",
    "EchoDefences",
    "EchoTranscriptDropped",
    "EchoRiskChange",
    "BargeIn",
    "SessionConfig",
    "TurnDetection",
    "tool",
    "Tool",
    "ToolCall",
    "ToolCallStarted",
    "ToolCallFinished",
    "ToolCallCancelled",
    "Reconnect",
    "State",
    # conversation events
    "ConversationEvent",
    "StateChanged",
    "UserSpeechStarted",
    "UserSpeechStopped",
    "UserTranscript",
    "AssistantTranscriptDelta",
    "AssistantTranscript",
    "ResponseStarted",
    "ResponseAudioStarted",
    "ResponseFinished",
    "PlaybackPosition",
    "Interrupted",
    "FalseInterruption",
    "InterruptionDecided",
    "Backchannel",
    "Evidence",
    "InterruptionClassifier",
    "LexiconClassifier",
    "Verdict",
    "InterruptionLatency",
    "Truncated",
    "ErrorOccurred",
    "OtherServerEvent",
    "Reconnecting",
    "Reconnected",
    "LostResponse",
    "RolledOver",
    # errors
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


#: Old names kept for one release: "events" named the wire protocol's events while
#: ``Conversation.events()`` yields the app's.
_RENAMED = {"events": ("realtalk.wire", "")}


def __getattr__(name: str) -> Any:
    return resolve(__name__, name, _RENAMED)
