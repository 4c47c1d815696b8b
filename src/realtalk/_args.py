"""Argument checks for the public constructors, with one message shape.

Each check raises :class:`~realtalk.errors.ConfigurationError` saying what was expected for
which argument and what came instead: ``expected a number > 0 for cancel_timeout, got -1``.
A credential is described by its type only, never by its value. :func:`validator` turns a
check into an attrs validator named after the attribute.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec

import attrs

from .errors import ConfigurationError

__all__ = (
    "bad_argument",
    "check_type",
    "check_number",
    "check_choice",
    "check_methods",
    "check_sample_rate",
    "check_clock",
    "check_flag",
    "check_path",
    "validator",
)

P = ParamSpec("P")

_SHOWN_CHARS = 80


def bad_argument(name: str, expected: str, value: object, *,
                 secret: bool = False) -> ConfigurationError:
    """The error for argument ``name``: ``expected ... for name, got ...``, with ``name``
    as its :attr:`~realtalk.errors.ConfigurationError.argument`."""
    return ConfigurationError(f"expected {expected} for {name}, got {_show(value, secret)}",
                              argument=name)


def check_type(name: str, value: object, types: type | tuple[type, ...], expected: str, *,
               secret: bool = False) -> None:
    """``value`` must be an instance of ``types`` (described to the user as ``expected``)."""
    if not isinstance(value, types):
        raise bad_argument(name, expected, value, secret=secret)


def check_number(name: str, value: object, *, minimum: float | None = None,
                 maximum: float | None = None, positive: bool = False, integer: bool = False,
                 optional: bool = False) -> None:
    """``value`` must be a finite real number (an int with ``integer``), within the bounds:
    ``minimum``/``maximum`` inclusive, ``positive`` meaning > 0; ``None`` with ``optional``.
    A bool is never a number here: ``True`` Hz or ``True`` seconds is always a mistake."""
    if optional and value is None:
        return
    if not _in_range(value, minimum, maximum, positive, integer):
        raise bad_argument(name, _number_text(minimum, maximum, positive, integer, optional),
                           value)


def check_choice(name: str, value: object, choices: Sequence[object], *,
                 optional: bool = False) -> None:
    """``value`` must be one of ``choices`` (or ``None`` with ``optional``)."""
    if (optional and value is None) or any(
            value == choice and type(value) is type(choice) for choice in choices):
        return
    listed = ", ".join(repr(choice) for choice in choices)
    raise bad_argument(name, f"{'None or ' if optional else ''}one of {listed}", value)


def check_methods(name: str, value: object, methods: Sequence[str], expected: str, *,
                  optional: bool = False) -> None:
    """``value`` must have every callable in ``methods`` (a structural check of a Protocol
    that cannot be checked with ``isinstance``); ``None`` passes with ``optional``."""
    if optional and value is None:
        return
    if not all(callable(getattr(value, method, None)) for method in methods):
        raise bad_argument(name, expected, value)


def check_sample_rate(value: object, name: str = "sample_rate") -> None:
    """``value`` must be a rate in Hz: an int > 0."""
    if not _in_range(value, None, None, positive=True, integer=True):
        raise bad_argument(name, "a sample rate in Hz (an int > 0)", value)


def check_clock(value: object, name: str = "clock") -> None:
    """``value`` must be ``None`` (the default clock) or a callable returning seconds."""
    check_methods(name, value, ("__call__",), "a callable returning seconds, or None",
                  optional=True)


def check_flag(name: str, value: object) -> None:
    """``value`` must be a bool (a truthy string or number is a mistake, not a yes)."""
    check_type(name, value, bool, "True or False")


def check_path(value: object, name: str = "path") -> None:
    """``value`` must be a file path: a non-empty str or an ``os.PathLike``."""
    if not isinstance(value, (str, os.PathLike)) or value == "":
        raise bad_argument(name, "a file path (a non-empty str or os.PathLike)", value)


def validator(check: Callable[Concatenate[str, Any, P], None], /, *args: P.args,
              **kwargs: P.kwargs) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """``check`` as an attrs validator: the argument's name is the attribute's."""

    def validate(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        check(attribute.alias or attribute.name, value, *args, **kwargs)

    return validate


def _in_range(value: object, minimum: float | None, maximum: float | None, positive: bool,
              integer: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    number: int | float
    if isinstance(value, numbers.Integral):
        number = int(value)  # exact, however large
    elif integer or not math.isfinite(value):
        return False
    else:
        number = float(value)
    return not ((positive and number <= 0) or (minimum is not None and number < minimum)
                or (maximum is not None and number > maximum))


def _number_text(minimum: float | None, maximum: float | None, positive: bool, integer: bool,
                 optional: bool) -> str:
    noun = "an int" if integer else "a number"
    if minimum is not None and maximum is not None:
        text = f"{noun} from {minimum:g} to {maximum:g}"
    elif positive:
        text = f"{noun} > 0"
    elif minimum is not None:
        text = f"{noun} >= {minimum:g}"
    elif maximum is not None:
        text = f"{noun} <= {maximum:g}"
    else:
        text = f"a finite {noun.split()[1]}" if not integer else noun
    return f"None or {text}" if optional else text


def _show(value: object, secret: bool) -> str:
    kind = type(value).__name__
    if secret:
        return f"a value of type {kind}"
    shown = repr(value)
    if len(shown) > _SHOWN_CHARS:
        shown = shown[:_SHOWN_CHARS - 3] + "..."
    if isinstance(value, (str, int, float)) or value is None:
        return shown  # the repr already says the type
    return f"{shown} ({kind})"
