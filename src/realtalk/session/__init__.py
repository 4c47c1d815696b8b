"""The sans-I/O core: state machine, playback tracker, latency marks and the session logic.

Nothing here reads a clock, opens a socket or starts a task (``tests/session/test_layering.py``
checks that importing it pulls in neither anyio nor websockets).
"""

from typing import Any

from .._renamed import resolve
from .core import ClientSession, ClientStats
from .decision import Evidence, InterruptionClassifier, LexiconClassifier, Verdict
from .latency import DetectionSource, InterruptionLatency
from .outputs import (
    AUDIO_ACTIONS,
    Action,
    AssistantTranscript,
    AssistantTranscriptDelta,
    AudioAction,
    Backchannel,
    ConversationEvent,
    DuckPlayback,
    EndOfAudio,
    ErrorOccurred,
    FalseInterruption,
    Interrupted,
    InterruptionDecided,
    OtherServerEvent,
    Output,
    PausePlayback,
    PlayAudio,
    PlaybackPosition,
    ResponseAudioStarted,
    ResponseFinished,
    ResponseStarted,
    ResumePlayback,
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
    "ClientSession",
    "ClientStats",
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
    "PausePlayback",
    "ResumePlayback",
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
    "InterruptionDecided",
    "Backchannel",
    "Evidence",
    "InterruptionClassifier",
    "LexiconClassifier",
    "Verdict",
    "Truncated",
    "ErrorOccurred",
    "OtherServerEvent",
)


#: Old names kept for one release: a bare "Session" did not say whose end of the realtime
#: session it is (the server's is ServerSession, the relay's RelaySession).
_RENAMED = {
    "Session": ("realtalk.session", "ClientSession"),
    "SessionStats": ("realtalk.session", "ClientStats"),
}


def __getattr__(name: str) -> Any:
    return resolve(__name__, name, _RENAMED)
