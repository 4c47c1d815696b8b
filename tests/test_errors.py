"""unwrap_group: which one exception an exception group out of a task group becomes."""

from __future__ import annotations

import sys

import pytest

import realtalk
from realtalk.errors import unwrap_group

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


class Cancelled(BaseException):
    """Stands for the event loop's cancellation exception."""


def _notes(error: BaseException) -> list[str]:
    return list(getattr(error, "__notes__", []))


def test_a_lone_error_is_found_through_nested_groups() -> None:
    """Two task groups deep, one error: that error, untouched."""
    error = realtalk.AudioError("bad audio")
    group = BaseExceptionGroup("outer", [BaseExceptionGroup("inner", [error])])
    assert unwrap_group(group, cancelled=Cancelled) is error
    assert _notes(error) == []


def test_the_apps_own_exception_group_is_kept_whole() -> None:
    """What the app raised stays as it was, even when it is itself a group."""
    own = ExceptionGroup("the app's own", [ValueError("a"), KeyError("b")])
    group = BaseExceptionGroup("task group", [own])
    assert unwrap_group(group, own=own, cancelled=Cancelled) is own


def test_cancellations_alone_are_left_to_the_cancel_scope() -> None:
    """Only cancellations: None, the group is re-raised for its cancel scope."""
    group = BaseExceptionGroup("g", [Cancelled(), BaseExceptionGroup("h", [Cancelled()])])
    assert unwrap_group(group, cancelled=Cancelled) is None


def test_cancellations_travelling_with_an_error_are_dropped() -> None:
    """An error beside cancellations is raised alone, with no note about them."""
    error = realtalk.ConnectError("refused")
    group = BaseExceptionGroup("g", [Cancelled(), error, Cancelled()])
    assert unwrap_group(group, cancelled=Cancelled) is error
    assert _notes(error) == []


def test_the_first_realtalk_error_wins_and_names_the_others() -> None:
    """Several errors: the first realtalk error, the others in its notes, in order."""
    first_other = ValueError("app cleanup failed")
    error = realtalk.AudioError("speaker unplugged")
    later = realtalk.ConnectionClosed("gone")
    group = ExceptionGroup("g", [first_other, ExceptionGroup("h", [error, later])])
    assert unwrap_group(group) is error
    assert _notes(error) == ["also raised: ValueError: app cleanup failed",
                             "also raised: ConnectionClosed: gone"]


def test_keyboard_interrupt_is_never_a_note() -> None:
    """Ctrl-C beats any error: it is raised, the error is noted on it."""
    interrupt = KeyboardInterrupt()
    error = realtalk.AudioError("x")
    group = BaseExceptionGroup("g", [error, interrupt])
    assert unwrap_group(group) is interrupt
    assert _notes(interrupt) == ["also raised: AudioError: x"]


def test_without_a_realtalk_error_the_first_one_wins() -> None:
    """No realtalk error among several: the first, the rest noted."""
    first, second = TypeError("t"), ValueError("v")
    assert unwrap_group(ExceptionGroup("g", [first, second])) is first
    assert _notes(first) == ["also raised: ValueError: v"]


def test_the_same_error_twice_is_one_error() -> None:
    """An error reached by two paths is not noted on itself."""
    error = realtalk.AudioError("x")
    group = ExceptionGroup("g", [error, ExceptionGroup("h", [error])])
    assert unwrap_group(group) is error
    assert _notes(error) == []


@pytest.mark.parametrize("error", [realtalk.ConfigurationError("c"), realtalk.AudioError("a")])
def test_argument_errors_are_value_errors(error: realtalk.RealtalkError) -> None:
    """Bad values stay catchable as ValueError, as before they had their own class."""
    assert isinstance(error, ValueError)
