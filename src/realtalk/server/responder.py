"""What the embedded server says and hears: the Responder and Transcriber interfaces.

The server has no language model and no speech recogniser. A :class:`Responder` decides the
assistant's reply text from the conversation so far; a :class:`Transcriber` turns committed user
audio into text. The defaults are honest stand-ins: :class:`ScriptedResponder` plays back long
canned replies (several sentences, so a barge-in lands mid-sentence) and
:class:`PlaceholderTranscriber` reports only how long the user spoke. Tests and the demo use
:class:`ScriptedTranscriber` so that the scripted user's words show up as transcripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import attrs
import numpy as np
import numpy.typing as npt

from ..errors import ConfigurationError

__all__ = (
    "DEFAULT_REPLIES",
    "ConversationTurn",
    "PlaceholderTranscriber",
    "Responder",
    "ScriptedResponder",
    "ScriptedTranscriber",
    "Transcriber",
)

DEFAULT_REPLIES: tuple[str, ...] = (
    "Sure, I can help with that. Let me walk you through it step by step, starting with the "
    "basics and then moving on to the details that usually matter most. First, make sure "
    "everything is plugged in and switched on. Then open the settings and look for the "
    "section called connections, which lists every device you have paired so far.",
    "That is a great question, and the answer depends a little on what you want to achieve. "
    "If speed matters most, the simplest option is usually the best one. If you care more "
    "about flexibility, it is worth spending a few extra minutes on the setup, because it "
    "will save you a lot of time later on.",
    "Here is a short story while you wait. Once upon a time, a small robot lived in a quiet "
    "workshop at the edge of a busy town. Every morning it polished the tools, sorted the "
    "screws by size, and listened to the radio, hoping that one day someone would ask it to "
    "build something truly remarkable.",
)


@attrs.frozen
class ConversationTurn:
    """One message of the conversation as text: who spoke and what they said (or heard)."""

    role: Literal["user", "assistant", "system"]
    text: str


class Responder(Protocol):
    """Chooses the assistant's reply."""

    def reply(self, conversation: Sequence[ConversationTurn]) -> str:
        """Return the reply text given the conversation so far (latest turn last).

        Assistant turns hold only what the user heard: a truncated item contributes the words
        played before the barge-in, as on the hosted service.
        """
        ...


class Transcriber(Protocol):
    """Turns one committed user audio item into text."""

    def transcribe(self, audio: npt.NDArray[np.int16], sample_rate: int) -> str:
        """Return the transcript of ``audio`` (PCM16 mono samples at ``sample_rate``)."""
        ...


class ScriptedResponder:
    """Replies with the given texts in order.

    Args:
        replies: the replies, used in order; defaults to :data:`DEFAULT_REPLIES`.
        cycle: after the last reply, start again from the first; if false, keep repeating the
            last one (a server must always have something to say).

    Raises:
        ConfigurationError: ``replies`` is empty.
    """

    def __init__(self, replies: Sequence[str] = DEFAULT_REPLIES, *, cycle: bool = True) -> None:
        if not replies:
            raise ConfigurationError(
                "ScriptedResponder needs at least one reply, got an empty sequence",
                argument="replies")
        self._replies = tuple(replies)
        self._cycle = cycle
        self._next = 0

    def reply(self, conversation: Sequence[ConversationTurn]) -> str:
        """The next scripted reply (the conversation is ignored)."""
        index = self._next
        if self._cycle:
            self._next = (index + 1) % len(self._replies)
        else:
            self._next = min(index + 1, len(self._replies) - 1)
        return self._replies[index]


class PlaceholderTranscriber:
    """Reports that the user spoke and for how long, e.g. ``"(user speech, 1.24 s)"``."""

    def transcribe(self, audio: npt.NDArray[np.int16], sample_rate: int) -> str:
        """A placeholder naming the duration of ``audio``."""
        return f"(user speech, {len(audio) / sample_rate:.2f} s)"


class ScriptedTranscriber:
    """Returns the given texts in order, one per committed item, then placeholders."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = list(texts)
        self._fallback = PlaceholderTranscriber()

    def transcribe(self, audio: npt.NDArray[np.int16], sample_rate: int) -> str:
        """The next scripted text, or a placeholder once the script is used up."""
        if self._texts:
            return self._texts.pop(0)
        return self._fallback.transcribe(audio, sample_rate)
