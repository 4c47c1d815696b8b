"""Every async test here runs in virtual time, under asyncio and trio: the recipe
docs/testing.md gives for an app's own tests."""

from __future__ import annotations

from typing import Any

import pytest

from realtalk.testing import virtual_backend


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each anyio test once per backend, each run on a fresh virtual clock."""
    return virtual_backend(request.param)
