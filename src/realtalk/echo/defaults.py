"""The default audio-level echo filter, and what an ``echo=`` option names."""

from __future__ import annotations

from ..errors import ConfigurationError
from .base import EchoFilter, EchoFilterChain, EchoOption
from .canceller import EchoCanceller

__all__ = ("default", "resolve")


def default(sample_rate: int = 24_000) -> EchoFilterChain:
    """The default audio-level chain: the adaptive canceller with its residual echo
    suppressor."""
    return EchoFilterChain([EchoCanceller(sample_rate, suppress=True)])


def resolve(option: EchoOption, sample_rate: int) -> EchoFilter | None:
    """The filter an :data:`EchoOption` names (``"default"``: :func:`default`)."""
    if isinstance(option, str):
        if option != "default":
            raise ConfigurationError(f"echo must be an EchoFilter, 'default' or None, "
                                     f"got {option!r}")
        return default(sample_rate)
    return option
