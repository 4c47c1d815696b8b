"""Fixtures for the relay's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio unless a test says otherwise: most use websockets' asyncio
    client and server as independent peers (the relay itself runs on asyncio and trio)."""
    return "asyncio"
