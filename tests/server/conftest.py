"""Fixtures for the embedded server's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the server's websockets shell is asyncio-based)."""
    return "asyncio"
