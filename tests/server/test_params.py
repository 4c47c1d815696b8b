"""Tests for realtalk.server.params: session fields and response.create overrides."""

from __future__ import annotations

from typing import Any

import pytest

from realtalk.server.items import RequestError
from realtalk.server.params import check_session, response_params
from realtalk.session_config import SessionConfig


def _session(**extra: Any) -> SessionConfig:
    return SessionConfig(voice="marin", output_modalities=("audio",), extra=extra)


def test_response_params_default_to_the_session() -> None:
    """With no overrides a response takes the session's modalities, voice and limit."""
    params = response_params(None, _session(max_output_tokens=300), "ga")
    assert (params.modalities, params.voice, params.max_output_tokens) == (("audio",), "marin",
                                                                           300)
    assert params.audio and params.in_conversation and params.metadata is None


def test_response_params_override_per_shape() -> None:
    """GA and beta spell the overrides differently; each is read in its own shape."""
    ga = response_params({"output_modalities": ["text"], "audio": {"output": {"voice": "cedar"}},
                          "max_output_tokens": 50, "conversation": "none",
                          "temperature": 0.6}, _session(), "ga")
    assert (ga.modalities, ga.voice, ga.max_output_tokens) == (("text",), "cedar", 50)
    assert not ga.audio and not ga.in_conversation
    assert ga.temperature is None  # GA has no temperature
    beta = response_params({"modalities": ["audio", "text"], "voice": "alloy",
                            "max_response_output_tokens": 60, "temperature": 0.6},
                           _session(temperature=0.8), "beta")
    assert (beta.voice, beta.max_output_tokens, beta.temperature) == ("alloy", 60, 0.6)
    assert beta.audio


def test_check_session_accepts_the_stored_fields() -> None:
    """Valid values of the fields the server stores pass, in each shape."""
    check_session(_session(tools=[{"type": "function", "name": "f", "parameters": {}}],
                           tool_choice={"type": "function", "name": "f"}, tracing=None,
                           truncation="auto", prompt={"id": "p", "version": None},
                           reasoning={"effort": "low"}, parallel_tool_calls=False,
                           include=["item.input_audio_transcription.logprobs"],
                           max_output_tokens="inf"), "ga")
    check_session(_session(tools=[], tool_choice="auto", temperature=1, speed=1.1,
                           max_response_output_tokens=4096), "beta")


@pytest.mark.parametrize(("extra", "shape", "code", "param"), [
    ({"speed": 1.0}, "ga", "unknown_parameter", "session.speed"),
    ({"reasoning": {"effort": "max"}}, "ga", "invalid_value", "session.reasoning.effort"),
    ({"prompt": {"version": "1"}}, "ga", "invalid_value", "session.prompt"),
    ({"truncation": {"type": "retention_ratio"}}, "ga", "invalid_value", "session.truncation"),
    ({"tools": [{"type": "function"}], "tracing": {"group": "g"}}, "ga", "invalid_value",
     "session.tracing"),
    ({"tools": [{}, {"name": "f", "strict": True}]}, "ga", "unknown_parameter",
     "session.tools[1].strict"),
    ({"tool_choice": {"type": "function", "name": "f"}}, "beta", "invalid_value",
     "session.tool_choice"),
    ({"max_output_tokens": 100}, "beta", "unknown_parameter", "session.max_output_tokens"),
    ({"max_response_output_tokens": 0}, "beta", "invalid_value",
     "session.max_response_output_tokens"),
    ({"temperature": True}, "beta", "invalid_value", "session.temperature"),
])
def test_check_session_names_the_bad_field(extra: dict[str, Any], shape: Any, code: str,
                                           param: str) -> None:
    """Unknown fields and wrong values are refused with the field's path."""
    with pytest.raises(RequestError) as info:
        check_session(_session(**extra), shape)
    assert (info.value.code, info.value.param) == (code, param)
    assert param in str(info.value)


def test_response_params_carry_the_tools_and_tool_choice() -> None:
    """A response takes the session's tools and tool_choice unless it brings its own."""
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object"}}]
    params = response_params(None, _session(tools=tools, tool_choice="required"), "ga")
    assert [tool.name for tool in params.tools] == ["f"]
    assert params.tool_choice == "required"
    own = response_params({"tools": [], "tool_choice": "none"}, _session(tools=tools), "ga")
    assert (own.tools, own.tool_choice) == ((), "none")


@pytest.mark.parametrize(("response", "code", "param"), [
    ({"tools": {}}, "invalid_value", "response.tools"),
    ({"tools": [{"type": "function"}]}, "missing_required_parameter", "response.tools[0].name"),
    ({"tool_choice": {"type": "function", "name": "g"}}, "invalid_value",
     "response.tool_choice.name"),
])
def test_response_tools_are_checked(response: dict[str, Any], code: str, param: str) -> None:
    """A response's own tools and tool_choice are checked like the session's, under response.*."""
    tools = [{"type": "function", "name": "f"}]
    with pytest.raises(RequestError) as info:
        response_params(response, _session(tools=tools), "ga")
    assert (info.value.code, info.value.param) == (code, param)
