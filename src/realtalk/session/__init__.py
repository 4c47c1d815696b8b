"""The sans-I/O core: state machine, playback tracker, latency marks and the session logic.

Nothing here reads a clock, opens a socket or starts a task (``tests/session/test_layering.py``
checks that importing it pulls in neither anyio nor websockets).
"""

from .core import Session, SessionStats
from .latency import DetectionSource, InterruptionLatency
from .outputs import (
    AUDIO_ACTIONS,
    Action,
    AssistantTranscript,
    AssistantTranscriptDelta,
    AudioAction,
    ConversationEvent,
    DuckPlayback,
    EndOfAudio,
    ErrorOccurred,
    FalseInterruption,
    Interrupted,
    OtherServerEvent,
    Output,
    PlayAudio,
    PlaybackPosition,
    ResponseAudioStarted,
    ResponseFinished,
    ResponseStarted,
    SendEvent,
    StateChanged,
    StopPlayback,
    Truncated,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)
from .playback import ItemKey, PlaybackTracker
from .state import HANDLING, TRANSITIONS, Handling, Input, State, StateMachine, Trigger

__all__ = (
    "Session",
    "SessionStats",
    "State",
    "Trigger",
    "TRANSITIONS",
    "Input",
    "Handling",
    "HANDLING",
    "StateMachine",
    "PlaybackTracker",
    "ItemKey",
    "DetectionSource",
    "InterruptionLatency",
    "Action",
    "SendEvent",
    "PlayAudio",
    "StopPlayback",
    "DuckPlayback",
    "EndOfAudio",
    "AudioAction",
    "AUDIO_ACTIONS",
    "Output",
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
    "Truncated",
    "ErrorOccurred",
    "OtherServerEvent",
)
