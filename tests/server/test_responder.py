"""The embedded server's stand-ins for a model and a recogniser: scripted replies in order,
transcripts in order, then placeholders naming how long the user spoke."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.errors import ConfigurationError
from realtalk.server import Responder, Transcriber
from realtalk.server.responder import (
    DEFAULT_REPLIES,
    ConversationTurn,
    PlaceholderTranscriber,
    ScriptedResponder,
    ScriptedTranscriber,
)

TURN = [ConversationTurn("user", "hello")]


def _replies(responder: Responder, n: int) -> list[str]:
    return [responder.reply(TURN) for _ in range(n)]


def test_replies_come_in_order_and_cycle() -> None:
    assert _replies(ScriptedResponder(["a", "b", "c"]), 7) == ["a", "b", "c", "a", "b", "c", "a"]


def test_without_cycling_the_last_reply_repeats() -> None:
    assert _replies(ScriptedResponder(["a", "b"], cycle=False), 5) == ["a", "b", "b", "b", "b"]
    assert _replies(ScriptedResponder(["only"], cycle=False), 2) == ["only", "only"]


def test_the_conversation_does_not_change_the_script() -> None:
    responder = ScriptedResponder(["a", "b"])
    assert responder.reply([]) == "a"
    assert responder.reply([ConversationTurn("assistant", "a"), *TURN * 3]) == "b"


def test_the_default_replies_are_long_enough_to_interrupt() -> None:
    """Several sentences each, so that a barge-in lands mid-reply."""
    assert _replies(ScriptedResponder(), len(DEFAULT_REPLIES)) == list(DEFAULT_REPLIES)
    assert all(reply.count(". ") >= 2 and len(reply.split()) > 40 for reply in DEFAULT_REPLIES)


def test_the_replies_are_copied() -> None:
    replies = ["a", "b"]
    responder = ScriptedResponder(replies)
    replies[0] = "changed"
    assert responder.reply(TURN) == "a"


def test_no_replies_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least one reply, got an empty sequence"):
        ScriptedResponder([])


def _speech(seconds: float, rate: int) -> npt.NDArray[np.int16]:
    return np.zeros(round(seconds * rate), np.int16)


@pytest.mark.parametrize(("seconds", "rate", "text"), [
    (1.24, 24_000, "(user speech, 1.24 s)"),
    (0.5, 16_000, "(user speech, 0.50 s)"),
    (0.0, 24_000, "(user speech, 0.00 s)"),
])
def test_the_placeholder_names_the_duration(seconds: float, rate: int, text: str) -> None:
    transcriber: Transcriber = PlaceholderTranscriber()
    assert transcriber.transcribe(_speech(seconds, rate), rate) == text


def test_scripted_transcripts_come_in_order_then_placeholders() -> None:
    texts = ["first", "second"]
    transcriber = ScriptedTranscriber(texts)
    heard = [transcriber.transcribe(_speech(s, 24_000), 24_000) for s in (1.0, 2.0, 3.0, 0.25)]
    assert heard == ["first", "second", "(user speech, 3.00 s)", "(user speech, 0.25 s)"]
    assert texts == ["first", "second"]  # the caller's list is not used up
