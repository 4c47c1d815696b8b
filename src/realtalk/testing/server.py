"""What the embedded server says and hears, recorded: a responder that keeps every
conversation it replied to, and a transcriber that keeps every audio item it transcribed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..server import DEFAULT_REPLIES, ConversationTurn, ScriptedResponder, ScriptedTranscriber

__all__ = ("RecordingResponder", "RecordingTranscriber")


class RecordingResponder(ScriptedResponder):
    """A :class:`~realtalk.server.ScriptedResponder` (replies in order) that keeps what it was
    asked: :attr:`conversations` holds, per reply, the conversation as the server passed it,
    with each assistant turn cut to what the user heard before a barge-in."""

    def __init__(self, replies: Sequence[str] = DEFAULT_REPLIES, *, cycle: bool = True) -> None:
        super().__init__(replies, cycle=cycle)
        self.conversations: list[tuple[ConversationTurn, ...]] = []
        """The conversation each reply was chosen for, in order."""

    def reply(self, conversation: Sequence[ConversationTurn]) -> str:
        """Record ``conversation``; the next scripted reply."""
        self.conversations.append(tuple(conversation))
        return super().reply(conversation)


class RecordingTranscriber(ScriptedTranscriber):
    """A :class:`~realtalk.server.ScriptedTranscriber` (texts in order, then placeholders)
    that keeps every committed audio item it was given, in :attr:`audio`."""

    def __init__(self, texts: Sequence[str] = ()) -> None:
        super().__init__(texts)
        self.audio: list[tuple[npt.NDArray[np.int16], int]] = []
        """Each ``(samples, sample_rate)`` transcribed, in order."""

    def transcribe(self, audio: npt.NDArray[np.int16], sample_rate: int) -> str:
        """Record ``audio``; the next scripted text."""
        self.audio.append((audio, sample_rate))
        return super().transcribe(audio, sample_rate)
