"""The public API: every __all__ is complete and names only what exists."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "realtalk", "realtalk.audio", "realtalk.wire", "realtalk.session", "realtalk.transport",
    "realtalk.vad", "realtalk.server", "realtalk.providers", "realtalk.testing",
    "realtalk.errors", "realtalk.session_config", "realtalk.echo", "realtalk.relay",
    "realtalk.transcripts", "realtalk.tools",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_a_tuple_of_existing_names(name: str) -> None:
    """__all__ is a tuple, without duplicates, and every name resolves."""
    module = importlib.import_module(name)
    exported = module.__all__
    assert isinstance(exported, tuple)
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"


def test_conversation_events_are_exported_at_the_top() -> None:
    """Every conversation event an app can match on is importable from realtalk."""
    import realtalk
    from realtalk.session import outputs

    for attr in outputs.__all__:
        if attr in ("SendEvent", "PlayAudio", "StopPlayback", "EndOfAudio", "DuckPlayback",
                    "PausePlayback", "ResumePlayback",
                    "AudioAction", "AUDIO_ACTIONS", "Action", "Output"):
            continue
        assert attr in realtalk.__all__, attr


def test_tool_call_events_are_exported_at_the_top() -> None:
    """The tool-call events Conversation.events() yields can be matched on from realtalk."""
    import realtalk
    from realtalk.tools import calls

    for event in ("ToolCallStarted", "ToolCallFinished", "ToolCallCancelled", "ToolCall"):
        assert getattr(realtalk, event) is getattr(calls, event)
        assert event in realtalk.__all__
