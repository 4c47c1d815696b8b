"""Fixtures for the relay's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the relay is served by websockets' asyncio server)."""
    return "asyncio"
