"""Renamed public names keep working for one release, warn, and are the very same objects."""

from __future__ import annotations

import sys

import pytest

import realtalk
import realtalk.server
import realtalk.session
import realtalk.wire


@pytest.mark.parametrize(("module", "old", "new"), [
    (realtalk.session, "Session", realtalk.session.ClientSession),
    (realtalk.session, "SessionStats", realtalk.session.ClientStats),
    (realtalk.server, "SessionStats", realtalk.server.ServerStats),
    (realtalk, "events", realtalk.wire),
])
def test_an_old_name_warns_and_names_its_successor(module: object, old: str, new: object) -> None:
    with pytest.warns(DeprecationWarning, match=rf"\.{old} is deprecated.*use realtalk\."):
        assert getattr(module, old) is new


def test_nothing_inside_the_package_uses_an_old_name() -> None:
    """Importing realtalk and every subpackage raises no deprecation of its own names."""
    import subprocess

    code = ("import realtalk, realtalk.server, realtalk.relay, realtalk.testing, realtalk.sim, "
            "realtalk.transcripts, realtalk.engine, realtalk.cli, realtalk.demo")
    subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code], check=True)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"realtalk\.session' has no attribute 'Nothing'"):
        realtalk.session.Nothing  # noqa: B018
