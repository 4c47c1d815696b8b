"""A Conversation rolling over to a fresh session before the hosted maximum, in virtual time
against the in-process server: at a turn boundary, with the context restored, the old
connection kept until the switch, no reply cut, and a refused opening retried."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import realtalk
from realtalk.server import ScriptedResponder, ServerOptions
from realtalk.testing import InProcessServer, virtual_backend
from realtalk.transport import Transport

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize(
    "anyio_backend", [virtual_backend("asyncio"), virtual_backend("trio")],
    ids=["asyncio", "trio"])]

REPLIES = ["Hi there, nice to meet you.", "Here is more of the same."]


def _server() -> InProcessServer:
    return InProcessServer(
        options=ServerOptions(first_audio_latency_ms=20.0, generation_speed=1.0, chunk_ms=100),
        responder_factory=lambda: ScriptedResponder(REPLIES))


def _rolling(after_s: float) -> realtalk.Reconnect:
    return realtalk.Reconnect(backoff_s=0.5, rng=random.Random(0), rollover_after_s=after_s)


async def _until(conv: realtalk.Conversation, kind: type[Any], seen: list[Any]) -> Any:
    with anyio.fail_after(120):
        async for event in conv.events():
            seen.append(event)
            if isinstance(event, kind):
                return event
    raise AssertionError(f"the conversation ended before a {kind.__name__}: {seen[-3:]}")


async def _until_quiet(conv: realtalk.Conversation, seen: list[Any]) -> None:
    with anyio.fail_after(120):
        async for event in conv.events():
            seen.append(event)
            if isinstance(event, realtalk.StateChanged) and event.old is realtalk.State.SPEAKING \
                    and event.new is realtalk.State.LISTENING:
                return


def _texts(server: InProcessServer, session: int) -> list[tuple[str | None, str]]:
    return [(item.role, item.text()) for item in server.sessions[session].conversation]


async def test_a_quiet_conversation_rolls_over_with_its_context_and_goes_on() -> None:
    server = _server()
    seen: list[Any] = []
    async with realtalk.Conversation(server, barge_in=None, reconnect=_rolling(30.0)) as conv:
        await conv.send_text("hello")
        await _until_quiet(conv, seen)
        rolled = await _until(conv, realtalk.RolledOver, seen)
        assert len(server.sessions) == 2 and not server.sessions[1].closed
        await conv.send_text("again")
        await _until_quiet(conv, seen)
        assert server.sessions[0].closed  # closed after the switch, before this reply ended
    assert 30.0 <= rolled.session_age_s < 31.0 and rolled.items_restored == 2
    assert _texts(server, 1) == [("user", "hello"), ("assistant", REPLIES[0]),
                                 ("user", "again"), ("assistant", REPLIES[0])]
    assert not any(isinstance(e, realtalk.Reconnecting | realtalk.ErrorOccurred) for e in seen)
    assert not any(isinstance(e, realtalk.StateChanged) and e.at == rolled.at for e in seen)
    assert server.sessions[0].stats.responses_completed == 1


async def test_a_rollover_due_mid_reply_waits_for_it_to_play_out() -> None:
    """Due while the reply plays: the new connection is opened meanwhile, the switch comes
    after the reply's last sample, and nothing of it is cut."""
    server = _server()
    speaker = realtalk.audio.MemoryOutput()
    seen: list[Any] = []
    async with realtalk.Conversation(server, barge_in=None, output=speaker,
                                     reconnect=_rolling(1.0)) as conv:
        await conv.send_text("hello")
        rolled = await _until(conv, realtalk.RolledOver, seen)
        assert len(server.sessions) == 2
        heard = len(speaker.recording())
        await conv.send_text("again")  # (and the restore is in by its reply)
        await _until_quiet(conv, seen)
    ended = next(e for e in seen if isinstance(e, realtalk.StateChanged)
                 and e.old is realtalk.State.SPEAKING)
    assert seen.index(ended) < seen.index(rolled) and rolled.waited_s > 0.5
    assert not any(isinstance(e, realtalk.Interrupted) for e in seen)
    first = server.sessions[0]
    item = next(i for i in first.conversation if i.is_assistant_audio())
    assert heard == round(item.audio_ms * 24)  # heard whole
    assert first.stats.truncations == 0 and first.stats.responses_cancelled == 0
    assert _texts(server, 1)[:3] == [("user", "hello"), ("assistant", REPLIES[0]),
                                     ("user", "again")]


class _RefusingSecond:
    """The in-process server, but its second connection is refused."""

    shape = "ga"

    def __init__(self, server: InProcessServer) -> None:
        self._server = server
        self.connects = 0

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        self.connects += 1
        return self._refused() if self.connects == 2 else self._server.connect()

    @contextlib.asynccontextmanager
    async def _refused(self) -> AsyncIterator[Transport]:
        raise realtalk.ConnectError("HTTP 503 while opening the next session")
        yield  # pragma: no cover


async def test_a_refused_opening_is_retried_and_the_old_session_carries_on() -> None:
    server = _server()
    provider = _RefusingSecond(server)
    seen: list[Any] = []
    async with realtalk.Conversation(provider, barge_in=None,  # type: ignore[arg-type]
                                     reconnect=_rolling(5.0)) as conv:
        rolled = await _until(conv, realtalk.RolledOver, seen)
    assert provider.connects == 3 and len(server.sessions) == 2
    assert 5.25 <= rolled.session_age_s <= 5.5  # the first retry's backoff: 0.25-0.5 s
    assert not any(isinstance(e, realtalk.Reconnecting | realtalk.ErrorOccurred) for e in seen)
