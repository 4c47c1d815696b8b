"""SessionConfig and TurnDetection: a setting out of range, given by the app or sent by a
peer, is refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

import realtalk
from realtalk.errors import ConfigurationError, EventParseError
from realtalk.session_config import TurnDetection


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
