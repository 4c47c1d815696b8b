"""SessionConfig and TurnDetection: a setting out of range, given by the app or sent by a
peer, is refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

import realtalk
from realtalk.errors import ConfigurationError, EventParseError
from realtalk.session_config import TurnDetection, WireShape


def test_an_app_setting_out_of_range_names_its_argument() -> None:
    """The ConfigurationError carries the argument's name, for code as well as people."""
    with pytest.raises(ConfigurationError, match=r"for threshold, got 1\.5") as info:
        realtalk.TurnDetection(threshold=1.5)
    assert info.value.argument == "threshold"


@pytest.mark.parametrize(("field", "value"), [("threshold", 1.5),
                                              ("silence_duration_ms", -1),
                                              ("eagerness", "max")])
def test_a_peer_setting_out_of_range_is_a_parse_error_at_its_field(field: str,
                                                                   value: object) -> None:
    """Parsed from the wire, the same setting is an EventParseError whose field is the
    setting's dotted path, so a server can answer with that ``param``."""
    data = {"audio": {"input": {"turn_detection": {"type": "server_vad", field: value}}}}
    with pytest.raises(EventParseError) as info:
        realtalk.SessionConfig.from_dict(data)
    assert info.value.field == f"session.audio.input.turn_detection.{field}"
    assert repr(value) in str(info.value)


def test_output_modalities_may_be_a_list_but_not_a_string() -> None:
    """A list is taken as the tuple it stands for; a bare string is refused."""
    assert realtalk.SessionConfig(output_modalities=["audio"]).output_modalities == ("audio",)
    with pytest.raises(ConfigurationError, match="output_modalities"):
        realtalk.SessionConfig(output_modalities="audio")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"eagerness": "low"}, "eagerness applies to semantic_vad turn detection only"),
    ({"type": "semantic_vad", "threshold": 0.5},
     "threshold applies to server_vad turn detection only"),
    ({"type": "semantic_vad", "silence_duration_ms": 300},
     "silence_duration_ms applies to server_vad turn detection only"),
])
def test_a_setting_of_the_other_kind_of_turn_detection_is_refused(
        kwargs: dict[str, Any], message: str) -> None:
    """Each kind has its own settings (the protocol's ServerVad and SemanticVad); from the
    wire, the bad field is named."""
    with pytest.raises(ConfigurationError, match=message):
        TurnDetection(**kwargs)
    with pytest.raises(EventParseError, match=message) as info:
        TurnDetection.from_dict(kwargs, "session.turn_detection")
    assert info.value.field == f"session.turn_detection.{next(iter(kwargs.keys() - {'type'}))}"


@pytest.mark.parametrize("shape", ["ga", "beta"])
def test_transcription_off_is_sent_as_null_and_parsed_back(shape: WireShape) -> None:
    """transcription_model=False turns input transcription off (null on the wire, as the
    service takes it); a model name turns it on; None leaves it out of the update."""
    def wire(config: realtalk.SessionConfig) -> dict[str, Any]:
        out = config.to_dict(shape)
        return out.get("audio", {}).get("input", {}) if shape == "ga" else out

    key = "transcription" if shape == "ga" else "input_audio_transcription"
    off = realtalk.SessionConfig(transcription_model=False)
    assert wire(off)[key] is None
    assert realtalk.SessionConfig.from_dict(off.to_dict(shape)).transcription_model is False
    assert not off.transcribes
    on = realtalk.SessionConfig(transcription_model="whisper-1")
    assert wire(on)[key] == {"model": "whisper-1"}
    assert on.transcribes
    unset = realtalk.SessionConfig()
    assert key not in wire(unset)
    assert realtalk.SessionConfig.from_dict(unset.to_dict(shape)).transcription_model is None
    assert off.merged(on).transcription_model == "whisper-1"
    assert on.merged(off).transcription_model is False
    assert on.merged(unset).transcription_model == "whisper-1"


def test_a_transcription_model_of_the_wrong_type_is_refused() -> None:
    """Only a model name, False (off) or None (unset) will do; True says nothing of which."""
    with pytest.raises(ConfigurationError, match=r"transcription_model.*got True"):
        realtalk.SessionConfig(transcription_model=True)  # type: ignore[arg-type]
