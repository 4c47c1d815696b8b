"""Argument checks: every public constructor refuses a bad argument with a
ConfigurationError that names it, and the shared checks say what was expected."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

import realtalk
from realtalk import providers
from realtalk._args import (
    bad_argument,
    check_choice,
    check_methods,
    check_number,
    check_path,
    check_sample_rate,
    validator,
)
from realtalk.audio import MemoryInput, MemoryOutput, SoundDevice, WavInput, WavOutput
from realtalk.audio.device import DeviceInput, DeviceOutput, DuplexEngine
from realtalk.errors import ConfigurationError
from realtalk.transcripts import JSONLTranscriptStore, SQLiteTranscriptStore, open_store
from realtalk.transport import Endpoint

_NOWHERE = "/nonexistent-realtalk-dir/t"  # never opened: the check comes first
_AZURE = {"deployment": "d", "endpoint": "https://r.openai.azure.com", "api_key": "k"}


def _conversation(**kwargs: Any) -> realtalk.Conversation:
    kwargs.setdefault("provider", providers.local())
    return realtalk.Conversation(**kwargs)


# (callable, keyword arguments, the argument the message must name)
BAD_ARGUMENTS: list[tuple[Callable[..., object], dict[str, Any], str]] = [
    # providers
    (providers.openai, {"api_key": 123}, "api_key"),
    (providers.openai, {"api_key": "k", "model": ""}, "model"),
    (providers.openai, {"api_key": "k", "model": 4}, "model"),
    (providers.openai, {"api_key": "k", "base_url": 8000}, "base_url"),
    (providers.azure, {**_AZURE, "deployment": 7}, "deployment"),
    (providers.azure, {**_AZURE, "endpoint": 3}, "endpoint"),
    (providers.azure, {**_AZURE, "api_key": None, "token": b"t"}, "token"),
    (providers.azure, {**_AZURE, "api_version": 2025}, "api_version"),
    (providers.local, {"generation_speed": 0}, "generation_speed"),
    (providers.local, {"first_audio_latency_ms": -1}, "first_audio_latency_ms"),
    (providers.local, {"chunk_ms": 0.5}, "chunk_ms"),
    (providers.local, {"responder_factory": "scripted"}, "responder_factory"),
    (providers.local, {"on_client_event": 1}, "on_client_event"),
    (providers.endpoint, {"url": 5}, "url"),
    (providers.endpoint, {"url": "http://h/v1/realtime"}, "url"),
    (providers.endpoint, {"url": "ws://h", "headers": ["Authorization"]}, "headers"),
    (providers.endpoint, {"url": "ws://h", "headers": {"api-key": 1}}, "headers['api-key']"),
    (providers.endpoint, {"url": "ws://h", "shape": "GA"}, "shape"),
    (providers.RemoteProvider, {"endpoint": "ws://h"}, "endpoint"),
    (providers.RemoteProvider, {"endpoint": Endpoint(url="ws://h"), "open_timeout": 0},
     "open_timeout"),
    # Conversation
    (_conversation, {"provider": "local"}, "provider"),
    (_conversation, {"config": {"voice": "marin"}}, "config"),
    (_conversation, {"input": "mic"}, "input"),
    (_conversation, {"output": object()}, "output"),
    (_conversation, {"output": MemoryOutput(16_000)}, "output"),
    (_conversation, {"barge_in": {"min_speech_ms": 100}}, "barge_in"),
    (_conversation, {"vad": "energy"}, "vad"),
    (_conversation, {"cancel_timeout": -1}, "cancel_timeout"),
    (_conversation, {"cancel_timeout": 0}, "cancel_timeout"),
    (_conversation, {"cancel_timeout": math.nan}, "cancel_timeout"),
    (_conversation, {"cancel_timeout": "2"}, "cancel_timeout"),
    (_conversation, {"clock": 5.0}, "clock"),
    (_conversation, {"event_buffer": 0}, "event_buffer"),
    (_conversation, {"event_buffer": 1.5}, "event_buffer"),
    (_conversation, {"echo": "defualt"}, "echo"),
    (_conversation, {"echo": 5}, "echo"),
    (_conversation, {"transcripts": "t.db"}, "transcripts"),
    (_conversation, {"echo": realtalk.EchoDefences(calibrate_at_start=True)}, "input"),
    # EchoDefences
    (realtalk.EchoDefences, {"canceller": "defualt"}, "canceller"),
    (realtalk.EchoDefences, {"canceller": 5}, "canceller"),
    (realtalk.EchoDefences, {"watch": "defualt"}, "watch"),
    (realtalk.EchoDefences, {"transcript_filters": "on"}, "transcript_filters"),
    (realtalk.EchoDefences, {"half_duplex": "yes"}, "half_duplex"),
    (realtalk.EchoDefences, {"calibrate_at_start": 1}, "calibrate_at_start"),
    # BargeIn
    (realtalk.BargeIn, {"min_speech_ms": "120"}, "min_speech_ms"),
    (realtalk.BargeIn, {"max_gap_ms": -1}, "max_gap_ms"),
    (realtalk.BargeIn, {"cooldown_ms": None}, "cooldown_ms"),
    (realtalk.BargeIn, {"use_server_vad": "no"}, "use_server_vad"),
    (realtalk.BargeIn, {"false_interruption_s": 0}, "false_interruption_s"),
    (realtalk.BargeIn, {"min_words": 0}, "min_words"),
    (realtalk.BargeIn, {"min_words": 1.5}, "min_words"),
    (realtalk.BargeIn, {"duck_gain_db": 6.0}, "duck_gain_db"),
    (realtalk.BargeIn, {"duck_ramp_ms": math.inf}, "duck_ramp_ms"),
    # SessionConfig, TurnDetection
    (realtalk.SessionConfig, {"voice": 3}, "voice"),
    (realtalk.SessionConfig, {"instructions": ["be brief"]}, "instructions"),
    (realtalk.SessionConfig, {"turn_detection": "server_vad"}, "turn_detection"),
    (realtalk.SessionConfig, {"noise_reduction": "near"}, "noise_reduction"),
    (realtalk.SessionConfig, {"output_modalities": "audio"}, "output_modalities"),
    (realtalk.SessionConfig, {"model": 4}, "model"),
    (realtalk.SessionConfig, {"extra": [("tools", [])]}, "extra"),
    (realtalk.SessionConfig, {"input_rate": 16_000}, "input_rate"),
    (realtalk.TurnDetection, {"type": "vad"}, "type"),
    (realtalk.TurnDetection, {"threshold": 2.0}, "threshold"),
    (realtalk.TurnDetection, {"silence_duration_ms": -1}, "silence_duration_ms"),
    (realtalk.TurnDetection, {"prefix_padding_ms": 1.5}, "prefix_padding_ms"),
    (realtalk.TurnDetection, {"eagerness": "max"}, "eagerness"),
    (realtalk.TurnDetection, {"create_response": "yes"}, "create_response"),
    # audio
    (MemoryInput, {"sample_rate": 0}, "sample_rate"),
    (MemoryInput, {"sample_rate": 16_000.0}, "sample_rate"),
    (MemoryInput, {"frame_ms": 0}, "frame_ms"),
    (MemoryInput, {"noise_dbfs": 10.0}, "noise_dbfs"),
    (MemoryInput, {"realtime": "yes"}, "realtime"),
    (MemoryInput, {"clock": 5}, "clock"),
    (MemoryInput, {"seed": -1}, "seed"),
    (MemoryOutput, {"sample_rate": -1}, "sample_rate"),
    (MemoryOutput, {"clock": "now"}, "clock"),
    (WavInput, {"path": 5}, "path"),
    (WavInput, {"path": ""}, "path"),
    (WavInput, {"path": _NOWHERE, "frame_ms": 0}, "frame_ms"),
    (WavOutput, {"path": None}, "path"),
    (WavOutput, {"path": _NOWHERE, "sample_rate": 0}, "sample_rate"),
    (SoundDevice, {"sample_rate": 0}, "sample_rate"),
    (SoundDevice, {"block_ms": 0}, "block_ms"),
    (SoundDevice, {"block_ms": 0.01}, "block_ms"),
    (SoundDevice, {"latency": "medium"}, "latency"),
    (SoundDevice, {"latency": -1}, "latency"),
    (SoundDevice, {"input_device": 1.5}, "input_device"),
    (SoundDevice, {"jitter_buffer_ms": -1}, "jitter_buffer_ms"),
    (DeviceOutput, {"jitter_buffer_ms": -1}, "jitter_buffer_ms"),
    (DeviceInput, {"max_queued_ms": 0}, "max_queued_ms"),
    (DeviceInput, {"on_start": "open"}, "on_start"),
    (DuplexEngine, {"sample_rate": 0}, "sample_rate"),
    # transcript stores
    (JSONLTranscriptStore, {"path": 5}, "path"),
    (JSONLTranscriptStore, {"path": ""}, "path"),
    (JSONLTranscriptStore, {"path": _NOWHERE, "fsync": "always"}, "fsync"),
    (SQLiteTranscriptStore, {"path": None}, "path"),
    (SQLiteTranscriptStore, {"path": _NOWHERE, "timeout": -1}, "timeout"),
    (open_store, {"path": 3}, "path"),
]


def _row_id(row: tuple[Callable[..., object], dict[str, Any], str]) -> str:
    function, kwargs, _ = row
    name = getattr(function, "__name__", "?").lstrip("_")
    return f"{name}-{'-'.join(f'{k}={v!r}' for k, v in kwargs.items())}"


@pytest.mark.parametrize(("function", "kwargs", "argument"), BAD_ARGUMENTS,
                         ids=[_row_id(row) for row in BAD_ARGUMENTS])
def test_a_bad_argument_is_a_configuration_error_naming_it(
        function: Callable[..., object], kwargs: dict[str, Any], argument: str) -> None:
    """Refused at construction, with a ConfigurationError whose message names the argument
    (not a TypeError or AttributeError from deep inside, later)."""
    with pytest.raises(ConfigurationError) as info:
        function(**kwargs)
    assert argument in str(info.value)


@pytest.mark.parametrize(("function", "kwargs"), [
    (providers.openai, {"api_key": b"sk-SECRET"}),
    (providers.azure, {**_AZURE, "api_key": None, "token": ["SECRET"]}),
    (providers.endpoint, {"url": "ws://h", "headers": {"Authorization": b"Bearer SECRET"}}),
    (providers.endpoint, {"url": "https://h/v1/realtime?api-key=SECRET"}),
])
def test_a_bad_credential_is_described_not_shown(function: Callable[..., object],
                                                 kwargs: dict[str, Any]) -> None:
    """Credentials of the wrong type are described by their type; never shown."""
    with pytest.raises(ConfigurationError) as info:
        function(**kwargs)
    assert "SECRET" not in str(info.value)


def test_the_message_says_what_was_expected_for_which_argument() -> None:
    """One message shape: expected X for Y, got Z."""
    error = bad_argument("cancel_timeout", "a number > 0", -1)
    assert str(error) == "expected a number > 0 for cancel_timeout, got -1"
    assert str(bad_argument("vad", "a detector", [1])) == \
        "expected a detector for vad, got [1] (list)"
    assert str(bad_argument("api_key", "a string", 5, secret=True)) == \
        "expected a string for api_key, got a value of type int"


@pytest.mark.parametrize(("value", "bounds", "ok"), [
    (1, {"positive": True}, True),
    (np.int64(3), {"integer": True, "minimum": 1}, True),
    (np.float32(0.5), {"minimum": 0.0, "maximum": 1.0}, True),
    pytest.param(10**400, {"minimum": 0}, True, id="huge-int"),  # exact, no float overflow
    (None, {"optional": True}, True),
    (True, {}, False),  # a bool is not a number
    (math.inf, {}, False),
    (math.nan, {"optional": True}, False),
    (2.0, {"integer": True}, False),
    (0, {"positive": True}, False),
    (1.5, {"maximum": 1.0}, False),
    ("3", {}, False),
])
def test_check_number(value: object, bounds: dict[str, Any], ok: bool) -> None:
    """Finite reals within bounds; bools, NaN, infinities and strings are refused."""
    if ok:
        check_number("x", value, **bounds)
    else:
        with pytest.raises(ConfigurationError, match="for x, got"):
            check_number("x", value, **bounds)


def test_range_descriptions() -> None:
    """The expected range is spelled out."""
    cases: list[tuple[dict[str, Any], str]] = [({"integer": True, "positive": True}, "an int > 0"),
             ({"minimum": 0.0, "maximum": 1.0}, "a number from 0 to 1"),
             ({"minimum": 0.0, "optional": True}, "None or a number >= 0"),
             ({"maximum": 0.0}, "a number <= 0")]
    for bounds, text in cases:
        with pytest.raises(ConfigurationError, match=f"^expected {text} for x"):
            check_number("x", "bad", **bounds)


def test_choices_compare_by_type_too() -> None:
    """1 is not 1.0 and not True: a choice matches in type as well as value."""
    check_choice("mode", "ga", ("ga", "beta"))
    with pytest.raises(ConfigurationError, match="one of 1, 2 for mode, got True"):
        check_choice("mode", True, (1, 2))
    check_choice("mode", None, ("ga",), optional=True)


def test_structural_and_small_checks() -> None:
    """Methods, sample rates and paths."""
    check_methods("clock", lambda: 0.0, ("__call__",), "a callable")
    with pytest.raises(ConfigurationError, match="for vad"):
        check_methods("vad", object(), ("is_speech",), "a detector")
    check_sample_rate(np.int32(16_000))
    with pytest.raises(ConfigurationError, match=r"sample rate in Hz \(an int > 0\) for "
                                                 r"input_rate, got 0"):
        check_sample_rate(0, "input_rate")
    check_path(Path("x.db"))
    with pytest.raises(ConfigurationError, match="file path"):
        check_path(b"x.db")


def test_validator_names_the_argument_as_the_caller_spells_it() -> None:
    """A private attrs field is named by its argument (its alias)."""

    @attrs.frozen
    class Settings:
        _rate: int = attrs.field(validator=validator(check_number, positive=True))

    Settings(rate=3)
    with pytest.raises(ConfigurationError, match="for rate, got -3"):
        Settings(rate=-3)
