"""The old realtalk.events module: importing it warns and gives the very module realtalk.wire."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

import pytest

import realtalk
import realtalk.wire


@pytest.fixture(autouse=True)
def _not_imported() -> Iterator[None]:
    """Each test imports the old module afresh, and leaves no trace: an import binds
    ``realtalk.events`` on the package, which would hide the package's own deprecation of
    the name from later tests."""
    def forget() -> None:
        sys.modules.pop("realtalk.events", None)
        vars(realtalk).pop("events", None)

    forget()
    yield
    forget()


def test_importing_the_old_events_module_gives_the_wire_module() -> None:
    with pytest.warns(DeprecationWarning, match="realtalk.events is deprecated.*realtalk.wire"):
        old = importlib.import_module("realtalk.events")
    assert old is realtalk.wire
    assert isinstance(realtalk.wire.ResponseCancel(), old.ResponseCancel)


def test_from_the_old_module_import_gives_the_wire_classes() -> None:
    with pytest.warns(DeprecationWarning, match="use realtalk.wire"):
        from realtalk.events import ResponseCancel, parse_server_event  # type: ignore[attr-defined]
    assert ResponseCancel is realtalk.wire.ResponseCancel
    assert parse_server_event is realtalk.wire.parse_server_event
