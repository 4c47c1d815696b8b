"""The scripted user: absolute times and barge-ins timed against the assistant."""

from __future__ import annotations

import numpy as np
import pytest

from realtalk.sim import ScriptedUser, Utterance

SPEECH = np.ones(100, dtype=np.int16)


def test_absolute_and_relative_triggers() -> None:
    """at= fires at its time; after_assistant_starts= fires relative to that response."""
    first = Utterance(samples=SPEECH, text="hi", at=1.0)
    barge = Utterance(samples=SPEECH, text="wait", after_assistant_starts=0.5,
                      response_number=2)
    user = ScriptedUser([first, barge])
    assert user.due(0.9) == []
    assert user.due(1.0) == [first]
    user.assistant_started(2.0)
    assert user.due(10.0) == []  # waits for the second response
    user.assistant_started(5.0)
    assert user.due(5.4) == []
    assert user.due(5.5) == [barge]
    assert user.finished
    assert barge.is_barge_in


def test_exactly_one_trigger() -> None:
    """An utterance needs exactly one of at= and after_assistant_starts=."""
    with pytest.raises(ValueError, match="exactly one"):
        Utterance(samples=SPEECH)
    with pytest.raises(ValueError, match="exactly one"):
        Utterance(samples=SPEECH, at=1.0, after_assistant_starts=1.0)
