"""The echo defences of a conversation, as one settings object.

``Conversation(echo=EchoDefences(...))`` and ``Simulation(echo=EchoDefences(...))`` take the
same object, so a setting has one name, one default and one place where it is documented.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import attrs

from .._args import bad_argument, check_flag, check_methods, check_type, validator
from ..errors import ConfigurationError
from .base import EchoOption
from .transcript import TranscriptFilterChain
from .watch import EchoRiskWatch

__all__ = ("EchoDefences", "defences_from_keywords", "UNSET")


def _canceller(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not _is_default(value):
        check_methods(attribute.name, value, ("process", "reset"), "'default', an EchoFilter "
                      "(with process() and reset()) or None", optional=True)


def _watch(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not _is_default(value):
        check_type(attribute.name, value, (EchoRiskWatch, type(None)),
                   "'default', an EchoRiskWatch or None")


def _filters(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not _is_default(value):
        check_type(attribute.name, value, (TranscriptFilterChain, type(None)),
                   "'default', a TranscriptFilterChain or None")


def _is_default(option: object) -> bool:
    # Compared as a string only: a filter object's own == is none of our business.
    return isinstance(option, str) and option == "default"


@attrs.frozen(kw_only=True)
class EchoDefences:
    """What keeps the assistant's own voice from being taken for the user.

    Each ``"default"`` is built anew for every conversation; an object given here is used as
    it is (it learns the room), so give each conversation its own.

    Attributes:
        canceller: the audio-level echo filter run on every microphone frame that carries
            its speaker reference, before the barge-in detector and before the audio goes
            upstream: ``"default"`` (:func:`realtalk.echo.default`, the adaptive canceller
            with its residual echo suppressor), any :class:`~realtalk.echo.EchoFilter`, or
            ``None`` (headphones). Frames without a reference pass unchanged.
        watch: the echo-risk watch, fed every frame the canceller cleaned (``"default"``:
            :class:`~realtalk.echo.EchoRiskWatch` with its defaults; ``None``: off). When the
            echo left after cancelling stays high it moves to ``"raised"`` (barge-in needs
            twice ``min_speech_ms`` and the gate a 6 dB wider margin) or ``"half_duplex"``
            (the microphone is muted while the assistant speaks), and back to ``"normal"``
            once the echo is under control; each change is an
            :class:`~realtalk.echo.EchoRiskChange` event.
        transcript_filters: the transcript-level filters every user transcript is judged by,
            against the assistant speech the user heard: ``"default"``
            (:func:`realtalk.echo.default_transcript_filters`), a chain, or ``None``. A
            transcript judged to be the assistant's own voice is replaced in the event stream
            by :class:`~realtalk.echo.EchoTranscriptDropped`, and its item is deleted upstream.
        half_duplex: mute the microphone while the assistant speaks, always (no echo, and no
            barge-in by voice): the last resort for devices where nothing else works.
        calibrate_at_start: measure the echo path when the conversation starts (a 0.6 s
            probe at -40 dBFS is played), before anything else is played; the microphone must
            carry its speaker reference (:class:`~realtalk.audio.SoundDevice` does). Off by
            default because it makes a sound.
    """

    canceller: EchoOption = attrs.field(default="default", validator=_canceller)
    watch: EchoRiskWatch | Literal["default"] | None = attrs.field(default="default",
                                                                   validator=_watch)
    transcript_filters: TranscriptFilterChain | Literal["default"] | None = attrs.field(
        default="default", validator=_filters)
    half_duplex: bool = attrs.field(default=False, validator=validator(check_flag))
    calibrate_at_start: bool = attrs.field(default=False, validator=validator(check_flag))


UNSET: Any = object()
"""The default of a deprecated keyword: the caller did not pass it (``None`` is a meaningful
value for most of them)."""


def defences_from_keywords(owner: str, echo: object, **old: object) -> EchoDefences:
    """The :class:`EchoDefences` an ``echo=`` argument and the keywords it replaced ask for.

    ``echo`` is an :class:`EchoDefences`, or (deprecated) the canceller option it used to
    be; ``old`` holds the deprecated keywords ``echo_watch``, ``transcript_filters``,
    ``half_duplex`` and ``calibrate_at_start`` (:data:`UNSET` when not passed). Each deprecated
    use warns once, naming the replacement.

    Raises:
        ConfigurationError: a deprecated keyword together with an ``EchoDefences``.
    """
    passed = {name: value for name, value in old.items() if value is not UNSET}
    if isinstance(echo, EchoDefences):
        if passed:
            raise ConfigurationError(
                f"{owner}: {', '.join(passed)} cannot be combined with echo=EchoDefences(...): "
                "set them on the EchoDefences", argument=next(iter(passed)))
        return echo
    if isinstance(echo, str) and not _is_default(echo):
        raise bad_argument("echo", "an EchoDefences (or 'default')", echo)
    if not _is_default(echo):
        check_methods("echo", echo, ("process", "reset"), "an EchoDefences (or, deprecated, "
                      "an EchoFilter or None)", optional=True)
    fields: dict[str, object] = {}
    if not _is_default(echo):
        _warn(owner, "echo=<filter or None>", "echo=EchoDefences(canceller=...)")
        fields["canceller"] = echo
    renamed = {"echo_watch": "watch"}
    for name, value in passed.items():
        field = renamed.get(name, name)
        _warn(owner, f"{name}=", f"echo=EchoDefences({field}=...)")
        fields[field] = value
    return EchoDefences(**fields)  # type: ignore[arg-type]


def _warn(owner: str, old: str, new: str) -> None:
    warnings.warn(f"{owner}({old}) is deprecated and will be removed in the next release: "
                  f"use {new}", DeprecationWarning, stacklevel=4)
