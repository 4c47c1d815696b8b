"""Session configuration, written in the GA nested shape or the beta flat shape.

The GA protocol nests audio settings (``session.audio.input.turn_detection``,
``{"type": "audio/pcm", "rate": 24000}``); the beta protocol, which Azure's older preview
endpoint still speaks, keeps them flat (``turn_detection``, ``input_audio_format: "pcm16"``).
:class:`SessionConfig` is one typed value that renders to either shape and parses from either.
``None`` on a field means "not part of this (partial) update".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import attrs

from ._args import bad_argument, check_choice, check_flag, check_number, check_type, validator
from .errors import ConfigurationError, EventParseError

__all__ = ("DEFAULT_TRANSCRIPTION_MODEL", "PCM_SAMPLE_RATE", "SessionConfig", "TurnDetection",
           "WireShape")

#: The realtime protocol's ``audio/pcm`` format is PCM16 mono at this rate, and no other.
PCM_SAMPLE_RATE = 24_000

#: The input transcription model a conversation asks for when its configuration leaves
#: ``transcription_model`` unset (see :class:`~realtalk.Conversation`).
DEFAULT_TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"

WireShape = Literal["ga", "beta"]

_TURN_TYPES = ("server_vad", "semantic_vad")
_EAGERNESS = ("low", "medium", "high", "auto")
_SERVER_VAD_ONLY = ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms")
_SEMANTIC_ONLY = ("eagerness",)
_NOISE = ("near_field", "far_field")

_Built = TypeVar("_Built")


_OPTIONAL_STRING = validator(check_type, (str, type(None)), "a string or None")
_OPTIONAL_MS = validator(check_number, integer=True, minimum=0, optional=True)


def _check_rate(_: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value != PCM_SAMPLE_RATE:
        raise ConfigurationError(
            f"{attribute.name}={value!r} is not supported: the realtime protocol's audio/pcm "
            f"format is {PCM_SAMPLE_RATE} Hz PCM16 mono; resample your audio at the edge"
        )


def _tuple_of_strings(value: object) -> tuple[str, ...]:
    # A lone string is a sequence of characters: ("a", "u", "d", ...) is never meant.
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
            isinstance(item, str) for item in value):
        raise bad_argument("output_modalities", "a tuple of strings such as ('audio',), or "
                           "None", value)
    return tuple(value)


@attrs.frozen(kw_only=True)
class TurnDetection:
    """Server-side turn detection (``server_vad`` or ``semantic_vad``), passed through as is.

    ``interrupt_response`` lets the server cancel a response when the user starts talking;
    realtalk's local barge-in is faster, and sends ``response.cancel`` itself only while the
    response is still active, so leaving both on never double-cancels.
    """

    type: Literal["server_vad", "semantic_vad"] = attrs.field(
        default="server_vad", validator=validator(check_choice, _TURN_TYPES)
    )
    threshold: float | None = attrs.field(
        default=None, validator=validator(check_number, minimum=0.0, maximum=1.0, optional=True)
    )
    prefix_padding_ms: int | None = attrs.field(default=None, validator=_OPTIONAL_MS)
    silence_duration_ms: int | None = attrs.field(default=None, validator=_OPTIONAL_MS)
    idle_timeout_ms: int | None = attrs.field(default=None, validator=_OPTIONAL_MS)
    eagerness: Literal["low", "medium", "high", "auto"] | None = attrs.field(
        default=None, validator=validator(check_choice, _EAGERNESS, optional=True)
    )
    create_response: bool = attrs.field(default=True, validator=validator(check_flag))
    interrupt_response: bool = attrs.field(default=True, validator=validator(check_flag))

    def __attrs_post_init__(self) -> None:
        # Each kind has settings of its own (the protocol's ServerVad and SemanticVad); one
        # set for the other kind would be refused upstream, or silently meaningless.
        own = _SEMANTIC_ONLY if self.type == "server_vad" else _SERVER_VAD_ONLY
        for name in own:
            if getattr(self, name) is not None:
                other = "semantic_vad" if self.type == "server_vad" else "server_vad"
                raise ConfigurationError(
                    f"{name} applies to {other} turn detection only, got it with "
                    f"type={self.type!r}", argument=name)

    def to_dict(self) -> dict[str, Any]:
        """Render as the protocol's JSON object, leaving out unset options."""
        out: dict[str, Any] = {"type": self.type}
        for name in ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.eagerness is not None:
            out["eagerness"] = self.eagerness
        out["create_response"] = self.create_response
        out["interrupt_response"] = self.interrupt_response
        return out

    @classmethod
    def from_dict(cls, data: object, path: str) -> TurnDetection:
        """Parse the protocol's JSON object; ``path`` names the field in errors."""
        obj = _mapping(data, path)
        kind = obj.get("type", "server_vad")
        if kind not in _TURN_TYPES:
            raise EventParseError(
                f"{path}.type must be one of {_TURN_TYPES}, got {kind!r}", field=f"{path}.type"
            )
        eagerness = obj.get("eagerness")
        if eagerness is not None and eagerness not in _EAGERNESS:
            raise EventParseError(
                f"{path}.eagerness must be one of {_EAGERNESS}, got {eagerness!r}",
                field=f"{path}.eagerness",
            )
        return _build(cls, path, fields_on_wire=True,
            type=kind,
            threshold=_opt_number(obj, "threshold", path),
            prefix_padding_ms=_opt_int(obj, "prefix_padding_ms", path),
            silence_duration_ms=_opt_int(obj, "silence_duration_ms", path),
            idle_timeout_ms=_opt_int(obj, "idle_timeout_ms", path),
            eagerness=eagerness,
            create_response=_opt_bool(obj, "create_response", path, default=True),
            interrupt_response=_opt_bool(obj, "interrupt_response", path, default=True),
        )


@attrs.frozen(kw_only=True)
class SessionConfig:
    """A (partial) realtime session configuration.

    Args:
        instructions: the system prompt.
        voice: the output voice (``"marin"``, ``"alloy"``, ...).
        turn_detection: a :class:`TurnDetection`; ``False`` turns server turn detection off
            (sent as ``null``: manual commits); ``None`` leaves it as it is.
        transcription_model: the input transcription model, e.g. ``"gpt-4o-mini-transcribe"``;
            ``False`` turns input transcription off (sent as ``null``); ``None`` leaves it as
            it is. The service sends ``conversation.item.input_audio_transcription.*`` events
            only while a model is set (its default is off).
        noise_reduction: ``"near_field"`` or ``"far_field"`` input noise reduction.
        input_rate, output_rate: PCM16 sample rates; only 24000 is valid on the wire.
        output_modalities: e.g. ``("audio",)``.
        model: the model (or, on Azure, deployment) name.
        extra: more top-level session fields (``tools``, ``tool_choice``, ...) merged in as is.
    """

    instructions: str | None = attrs.field(default=None, validator=_OPTIONAL_STRING)
    voice: str | None = attrs.field(default=None, validator=_OPTIONAL_STRING)
    turn_detection: TurnDetection | Literal[False] | None = attrs.field(default=None)
    transcription_model: str | Literal[False] | None = attrs.field(default=None)
    noise_reduction: Literal["near_field", "far_field"] | None = attrs.field(
        default=None, validator=validator(check_choice, _NOISE, optional=True)
    )
    input_rate: int | None = attrs.field(default=PCM_SAMPLE_RATE, validator=_check_rate)
    output_rate: int | None = attrs.field(default=PCM_SAMPLE_RATE, validator=_check_rate)
    output_modalities: tuple[str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(_tuple_of_strings))
    model: str | None = attrs.field(default=None, validator=_OPTIONAL_STRING)
    extra: Mapping[str, Any] = attrs.field(factory=dict, validator=validator(
        check_type, Mapping, "a mapping of more session fields"))

    @turn_detection.validator
    def _check_turn_detection(self, _: attrs.Attribute[Any], value: object) -> None:
        if not (value is None or value is False or isinstance(value, TurnDetection)):
            raise bad_argument("turn_detection", "a TurnDetection, False (off) or None",
                               value)

    @transcription_model.validator
    def _check_transcription_model(self, _: attrs.Attribute[Any], value: object) -> None:
        if not (value is None or value is False or isinstance(value, str)):
            raise bad_argument("transcription_model", "a model name such as "
                               f"{DEFAULT_TRANSCRIPTION_MODEL!r}, False (off) or None", value)

    @property
    def transcribes(self) -> bool:
        """Whether this configuration asks for input transcription (a model is set)."""
        return isinstance(self.transcription_model, str)

    def merged(self, update: SessionConfig) -> SessionConfig:
        """Apply a partial update: every field the update sets wins."""
        changes: dict[str, Any] = {}
        for field in attrs.fields(SessionConfig):
            value = getattr(update, field.name)
            if field.name == "extra":
                changes["extra"] = {**self.extra, **update.extra}
            elif value is not None:
                changes[field.name] = value
        return attrs.evolve(self, **changes)

    def to_dict(self, shape: WireShape = "ga") -> dict[str, Any]:
        """Render as the ``session`` object of ``session.update`` in the chosen shape."""
        turn: dict[str, Any] | Literal["unset"] | None = "unset"
        if self.turn_detection is False:
            turn = None
        elif self.turn_detection is not None:
            turn = self.turn_detection.to_dict()
        out: dict[str, Any] = {}
        if shape == "ga":
            out["type"] = "realtime"
            if self.model is not None:
                out["model"] = self.model
            if self.output_modalities is not None:
                out["output_modalities"] = list(self.output_modalities)
            if self.instructions is not None:
                out["instructions"] = self.instructions
            audio_in: dict[str, Any] = {}
            audio_out: dict[str, Any] = {}
            if self.input_rate is not None:
                audio_in["format"] = {"type": "audio/pcm", "rate": self.input_rate}
            if self.noise_reduction is not None:
                audio_in["noise_reduction"] = {"type": self.noise_reduction}
            if self.transcription_model is not None:
                audio_in["transcription"] = _transcription(self.transcription_model)
            if turn != "unset":
                audio_in["turn_detection"] = turn
            if self.output_rate is not None:
                audio_out["format"] = {"type": "audio/pcm", "rate": self.output_rate}
            if self.voice is not None:
                audio_out["voice"] = self.voice
            audio = {k: v for k, v in (("input", audio_in), ("output", audio_out)) if v}
            if audio:
                out["audio"] = audio
        else:
            if self.model is not None:
                out["model"] = self.model
            if self.output_modalities is not None:
                out["modalities"] = list(self.output_modalities)
            if self.instructions is not None:
                out["instructions"] = self.instructions
            if self.voice is not None:
                out["voice"] = self.voice
            if self.input_rate is not None:
                out["input_audio_format"] = "pcm16"
            if self.output_rate is not None:
                out["output_audio_format"] = "pcm16"
            if self.transcription_model is not None:
                out["input_audio_transcription"] = _transcription(self.transcription_model)
            if self.noise_reduction is not None:
                out["input_audio_noise_reduction"] = {"type": self.noise_reduction}
            if turn != "unset":
                out["turn_detection"] = turn
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "session") -> SessionConfig:
        """Parse a ``session`` object in either shape (GA nested or beta flat).

        Raises:
            EventParseError: a field has the wrong type or an unsupported value; the error's
                ``field`` is the dotted path of that field.
        """
        obj = _mapping(data, path)
        known = {
            "type",
            "model",
            "instructions",
            "output_modalities",
            "modalities",
            "audio",
            "voice",
            "input_audio_format",
            "output_audio_format",
            "turn_detection",
            "input_audio_transcription",
            "input_audio_noise_reduction",
            "object",
            "id",
        }
        extra = {k: v for k, v in obj.items() if k not in known}
        kwargs: dict[str, Any] = {
            "model": _opt_str(obj, "model", path),
            "instructions": _opt_str(obj, "instructions", path),
            "input_rate": None,
            "output_rate": None,
            "extra": extra,
        }
        modalities = obj.get("output_modalities", obj.get("modalities"))
        if modalities is not None:
            if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
                raise EventParseError(
                    f"{path}.output_modalities must be a list of strings, got {modalities!r}",
                    field=f"{path}.output_modalities",
                )
            kwargs["output_modalities"] = tuple(modalities)
        if "audio" in obj:
            audio = _mapping(obj["audio"], f"{path}.audio")
            audio_in = _mapping(audio.get("input", {}), f"{path}.audio.input")
            audio_out = _mapping(audio.get("output", {}), f"{path}.audio.output")
            if "format" in audio_in:
                kwargs["input_rate"] = _pcm_rate(audio_in["format"], f"{path}.audio.input.format")
            if "format" in audio_out:
                kwargs["output_rate"] = _pcm_rate(
                    audio_out["format"], f"{path}.audio.output.format"
                )
            kwargs["voice"] = _opt_str(audio_out, "voice", f"{path}.audio.output")
            turn_path, turn_obj, turn_set = (
                f"{path}.audio.input.turn_detection",
                audio_in.get("turn_detection"),
                "turn_detection" in audio_in,
            )
            transcription = audio_in.get("transcription")
            transcription_set = "transcription" in audio_in
            transcription_path = f"{path}.audio.input.transcription"
            noise = audio_in.get("noise_reduction")
            noise_path = f"{path}.audio.input.noise_reduction"
        else:
            for key, rate_key in (
                ("input_audio_format", "input_rate"),
                ("output_audio_format", "output_rate"),
            ):
                if key in obj:
                    if obj[key] != "pcm16":
                        raise EventParseError(
                            f"{path}.{key} must be 'pcm16', got {obj[key]!r}", field=f"{path}.{key}"
                        )
                    kwargs[rate_key] = PCM_SAMPLE_RATE
            kwargs["voice"] = _opt_str(obj, "voice", path)
            turn_path, turn_obj, turn_set = (
                f"{path}.turn_detection",
                obj.get("turn_detection"),
                "turn_detection" in obj,
            )
            transcription = obj.get("input_audio_transcription")
            transcription_set = "input_audio_transcription" in obj
            transcription_path = f"{path}.input_audio_transcription"
            noise = obj.get("input_audio_noise_reduction")
            noise_path = f"{path}.input_audio_noise_reduction"
        if turn_set:
            kwargs["turn_detection"] = (
                False if turn_obj is None else TurnDetection.from_dict(turn_obj, turn_path)
            )
        if transcription is not None:
            kwargs["transcription_model"] = _opt_str(
                _mapping(transcription, transcription_path), "model", transcription_path
            )
        elif transcription_set:
            kwargs["transcription_model"] = False  # null: transcription off
        if noise is not None:
            noise_type = _mapping(noise, noise_path).get("type")
            if noise_type not in _NOISE:
                raise EventParseError(
                    f"{noise_path}.type must be one of {_NOISE}, got {noise_type!r}",
                    field=f"{noise_path}.type",
                )
            kwargs["noise_reduction"] = noise_type
        return _build(cls, path, fields_on_wire=False, **kwargs)


def _transcription(model: str | Literal[False]) -> dict[str, Any] | None:
    """The wire's transcription object for a model, or ``None`` (off) for ``False``."""
    return None if model is False else {"model": model}


def _build(cls: type[_Built], path: str, *, fields_on_wire: bool, **kwargs: Any) -> _Built:
    """``cls(**kwargs)`` for a parser: a setting out of range is the peer's bad field, named
    down to the field when ``cls``'s arguments are named as on the wire."""
    try:
        return cls(**kwargs)
    except ConfigurationError as exc:
        field = f"{path}.{exc.argument}" if fields_on_wire and exc.argument else path
        raise EventParseError(str(exc), field=field) from exc


def _mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EventParseError(f"{path} must be an object, got {type(value).__name__}", field=path)
    return value


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise EventParseError(
            f"{path}.{key} must be a string, got {type(value).__name__}", field=f"{path}.{key}"
        )
    return value


def _opt_int(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = obj.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise EventParseError(
            f"{path}.{key} must be an integer, got {value!r}", field=f"{path}.{key}"
        )
    return value


def _opt_number(obj: Mapping[str, Any], key: str, path: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EventParseError(
            f"{path}.{key} must be a number, got {value!r}", field=f"{path}.{key}"
        )
    return float(value)


def _opt_bool(obj: Mapping[str, Any], key: str, path: str, *, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise EventParseError(
            f"{path}.{key} must be a boolean, got {value!r}", field=f"{path}.{key}"
        )
    return value


def _pcm_rate(value: object, path: str) -> int:
    fmt = _mapping(value, path)
    if fmt.get("type") != "audio/pcm":
        raise EventParseError(
            f"{path}.type must be 'audio/pcm' (PCM16), got {fmt.get('type')!r}",
            field=f"{path}.type",
        )
    rate = fmt.get("rate", PCM_SAMPLE_RATE)
    if rate != PCM_SAMPLE_RATE:
        raise EventParseError(
            f"{path}.rate must be {PCM_SAMPLE_RATE} for audio/pcm, got {rate!r}",
            field=f"{path}.rate",
        )
    return PCM_SAMPLE_RATE
