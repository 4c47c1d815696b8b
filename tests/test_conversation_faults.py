"""A Conversation against the embedded server's injected faults, over a real WebSocket
(``providers.local`` with a fault plan): what the app sees for each. Without reconnect
settings (the default), a lost connection is the conversation's fatal error;
tests/test_conversation_reconnect.py has the reconnects."""

from __future__ import annotations

import anyio
import pytest

import realtalk
from realtalk.server import Drop, Fault, FaultPlan, SendError, Stall
from realtalk.transport import Keepalive

pytestmark = pytest.mark.anyio

DELTA = "response.output_audio.delta"


async def _errors_until_closed(provider: realtalk.providers.LocalProvider
                               ) -> list[realtalk.ErrorOccurred]:
    """Ask for a spoken answer, read events until the conversation closes (or its answer
    is done), and return the errors it reported. No reconnect: a lost connection ends it
    (tests/test_conversation_reconnect.py has the reconnects)."""
    errors: list[realtalk.ErrorOccurred] = []
    async with realtalk.Conversation(provider, barge_in=None, reconnect=None) as conv:
        await conv.send_text("hello")
        with anyio.fail_after(20):
            async for event in conv.events():
                if isinstance(event, realtalk.ErrorOccurred):
                    errors.append(event)
                if isinstance(event, realtalk.ResponseFinished):
                    break
    return errors


async def test_a_rate_limit_error_is_reported_and_the_conversation_goes_on() -> None:
    plan = FaultPlan([Fault(SendError.rate_limit(), before=DELTA, nth=2)])
    errors = await _errors_until_closed(realtalk.providers.local(
        first_audio_latency_ms=0, generation_speed=50.0, faults=plan))
    assert len(errors) == 1
    assert errors[0].error is not None and errors[0].error.code == "rate_limit_exceeded"
    assert not errors[0].fatal


async def test_a_dropped_connection_is_a_fatal_error_naming_it() -> None:
    plan = FaultPlan([Fault(Drop("reset"), before=DELTA, nth=2)])
    errors = await _errors_until_closed(realtalk.providers.local(
        first_audio_latency_ms=0, generation_speed=50.0, faults=plan))
    assert [e.fatal for e in errors] == [True]
    assert "connection lost" in errors[0].message


async def test_a_stalled_server_is_a_fatal_keepalive_timeout() -> None:
    plan = FaultPlan([Fault(Stall(), before=DELTA, nth=2)])
    errors = await _errors_until_closed(realtalk.providers.local(
        first_audio_latency_ms=0, generation_speed=50.0, faults=plan,
        keepalive=Keepalive(interval=0.1, timeout=0.3)))
    assert [e.fatal for e in errors] == [True]
    assert "keepalive" in errors[0].message and "0.3 s" in errors[0].message
