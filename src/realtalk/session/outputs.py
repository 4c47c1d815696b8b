"""What the session core hands back: actions for the I/O layer and events for the app.

The core appends both to one ordered outbox, so the I/O layer performs them in the order the
core decided (for a barge-in: stop playback, send ``response.cancel``, send the truncate).
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from ..wire import ClientEvent, ErrorInfo, ResponseStatus, ServerEvent
from .decision import Evidence, Verdict
from .latency import DetectionSource, InterruptionLatency
from .state import State

__all__ = (
    # actions
    "SendEvent",
    "PlayAudio",
    "StopPlayback",
    "DuckPlayback",
    "EndOfAudio",
    "PausePlayback",
    "ResumePlayback",
    "AudioAction",
    "AUDIO_ACTIONS",
    "Action",
    # conversation events
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
    "Truncated",
    "ErrorOccurred",
    "OtherServerEvent",
    "ConversationEvent",
    "Output",
)

# ---------------------------------------------------------------------------------------------
# Actions: performed by the I/O layer
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class SendEvent:
    """Send ``event`` to the server, after everything sent before it."""

    event: ClientEvent


@attrs.frozen(kw_only=True)
class PlayAudio:
    """Queue PCM16 mono audio (``pcm``, raw bytes) for playback after what is queued."""

    response_id: str
    item_id: str
    content_index: int
    pcm: bytes


@attrs.frozen
class StopPlayback:
    """Stop the output now and drop everything queued."""


@attrs.frozen
class DuckPlayback:
    """Ramp the playback gain to ``gain`` (below 1: the user may be starting to talk; 1:
    it was not speech, restore)."""

    gain: float
    ramp_ms: float


@attrs.frozen
class EndOfAudio:
    """All audio of the playing response is queued: play it out (see ``AudioOutput.mark_end``)."""


@attrs.frozen
class PausePlayback:
    """The assistant yields to the user: stop the output now, but keep what was queued and
    did not play, and hold the audio that comes after it, to play on from the exact sample
    (:class:`ResumePlayback`) or drop (:class:`StopPlayback`)."""


@attrs.frozen
class ResumePlayback:
    """Play on from where :class:`PausePlayback` stopped: what was held, in order."""


AudioAction: TypeAlias = (PlayAudio | StopPlayback | DuckPlayback | EndOfAudio | PausePlayback
                          | ResumePlayback)
"""The actions performed on the audio output (the engine performs them: ``realtalk.engine``)."""
AUDIO_ACTIONS = (PlayAudio, StopPlayback, DuckPlayback, EndOfAudio, PausePlayback,
                 ResumePlayback)

Action: TypeAlias = SendEvent | AudioAction

# ---------------------------------------------------------------------------------------------
# Conversation events: what an app sees from ``Conversation.events()``
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StateChanged:
    """The session moved from ``old`` to ``new`` at ``at`` (monotonic seconds)."""

    old: State
    new: State
    at: float


@attrs.frozen(kw_only=True)
class UserSpeechStarted:
    """The user started talking (outside of a barge-in)."""

    source: DetectionSource
    at: float


@attrs.frozen(kw_only=True)
class UserSpeechStopped:
    """The server heard the user stop talking (end of the user's turn)."""

    at: float


@attrs.frozen(kw_only=True)
class UserTranscript:
    """What the user said, transcribed by the server.

    ``speech_started_at`` / ``speech_ended_at`` are when the utterance's audio was captured
    (the server VAD's ``audio_start_ms`` / ``audio_end_ms`` for this item, mapped back to the
    microphone's clock), ``None`` when the server did not say (no server VAD, a text item).
    """

    item_id: str
    text: str
    at: float
    speech_started_at: float | None = None
    speech_ended_at: float | None = None


@attrs.frozen(kw_only=True)
class AssistantTranscriptDelta:
    """A piece of the assistant's transcript as it is generated (not yet heard)."""

    response_id: str
    item_id: str
    delta: str


@attrs.frozen(kw_only=True)
class AssistantTranscript:
    """The assistant's full transcript of an audio part.

    When ``interrupted`` is true, the user heard only ``heard_ms`` of it and the server's copy
    was truncated to that point; ``text`` is what the model had generated.
    """

    response_id: str
    item_id: str
    text: str
    interrupted: bool
    heard_ms: float | None
    at: float


@attrs.frozen(kw_only=True)
class ResponseStarted:
    """The server started a response."""

    response_id: str
    at: float


@attrs.frozen(kw_only=True)
class ResponseAudioStarted:
    """The first audio of a response was queued.

    ``latency_ms`` is the time from the end of the user's turn (server ``speech_stopped``) to
    this first audio, when a user turn preceded it.
    """

    response_id: str
    item_id: str
    latency_ms: float | None
    at: float


@attrs.frozen(kw_only=True)
class PlaybackPosition:
    """Where playback is: ``heard_ms`` of ``item_id`` have left the speaker (of
    ``received_ms`` received). Emitted every ``progress_interval`` while the assistant speaks,
    for captions that follow the voice, or progress bars."""

    item_id: str
    content_index: int
    heard_ms: float
    received_ms: float
    at: float


@attrs.frozen(kw_only=True)
class ResponseFinished:
    """A response ended upstream with ``status`` (``reason`` from its status details)."""

    response_id: str
    status: ResponseStatus
    reason: str | None
    at: float


@attrs.frozen(kw_only=True)
class Interrupted:
    """The user talked over the assistant, and the assistant stopped.

    Attributes:
        response_id, item_id: what was playing.
        source: which detector fired first.
        heard_ms: audio of the item the user actually heard.
        received_ms: audio of the item received from the server when playback stopped.
        truncate_ms: ``audio_end_ms`` sent in ``conversation.item.truncate`` (``None``: no
            truncate was needed, because playback had already finished).
        cancel_sent: whether ``response.cancel`` was sent (not when the response had already
            ended upstream).
        timed_out: upstream never confirmed the cancel within the session's timeout.
        latency: the marks of each step; ``latency.stop_ms`` is onset -> playback stopped.
    """

    response_id: str | None
    item_id: str | None
    source: DetectionSource
    heard_ms: float
    received_ms: float
    truncate_ms: int | None
    cancel_sent: bool
    timed_out: bool
    latency: InterruptionLatency


@attrs.frozen(kw_only=True)
class FalseInterruption:
    """An interruption was judged false: no user words followed it within the window (a
    cough, a door, a noise the detector took for speech).

    ``resumed`` says whether realtalk asked the model to carry on from where it was cut.
    ``detected`` is the interruption's detection time (``Interrupted.latency.detected``).
    """

    item_id: str | None
    heard_ms: float
    detected: float
    resumed: bool
    at: float


@attrs.frozen(kw_only=True)
class InterruptionDecided:
    """The assistant yielded to the user's speech and the decision is made
    (``BargeIn(decide=True)``, see :mod:`realtalk.session.decision`).

    Attributes:
        verdict: ``"interruption"`` (the reply is cancelled; an :class:`Interrupted`
            follows), ``"backchannel"`` or ``"noise"`` (the reply plays on from the paused
            sample).
        evidence: what the classifier judged. ``evidence.confirmed`` is false for the
            check of speech too short to confirm (``BargeIn.check_speech_ms``): the reply
            was not paused but played on until the verdict.
        onset: the detector's speech onset (capture time).
        yielded: when playback paused (for a check: when the check began).
        decided: when the verdict came; for confirmed speech ``decided - yielded`` is how
            long the assistant was silent before it went on or stopped for good.
    """

    verdict: Verdict
    evidence: Evidence
    onset: float | None
    yielded: float
    decided: float


@attrs.frozen(kw_only=True)
class Backchannel:
    """The user said something like "yeah" or "uh huh" over the assistant, which went on
    with its reply. ``transcript``: their words, if they were transcribed in time."""

    transcript: str | None
    speech_ms: float
    at: float


@attrs.frozen(kw_only=True)
class Truncated:
    """The server confirmed the truncation of ``item_id`` at ``audio_end_ms``."""

    item_id: str
    audio_end_ms: int
    at: float


@attrs.frozen(kw_only=True)
class ErrorOccurred:
    """Something went wrong; the conversation goes on unless it says ``fatal``.

    ``error`` is the server's error object when the server reported it. ``benign`` marks the
    known races (``response_cancel_not_active``, a truncate past the end) that realtalk absorbs.
    """

    message: str
    error: ErrorInfo | None
    benign: bool
    fatal: bool
    at: float


@attrs.frozen(kw_only=True)
class OtherServerEvent:
    """A server event the conversation does not turn into one of its own events (text
    deltas, content parts, rate limits, item bookkeeping, types newer than realtalk as
    :class:`~realtalk.wire.UnknownServerEvent`), passed through untouched."""

    event: ServerEvent
    at: float


ConversationEvent: TypeAlias = (
    StateChanged
    | UserSpeechStarted
    | UserSpeechStopped
    | UserTranscript
    | AssistantTranscriptDelta
    | AssistantTranscript
    | ResponseStarted
    | ResponseAudioStarted
    | ResponseFinished
    | PlaybackPosition
    | Interrupted
    | FalseInterruption
    | InterruptionDecided
    | Backchannel
    | Truncated
    | ErrorOccurred
    | OtherServerEvent
)

Output: TypeAlias = Action | ConversationEvent
