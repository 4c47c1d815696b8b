"""The in-memory transport pair: ordered delivery both ways, a record of what each end sent,
and closing seen by both ends as ConnectionClosed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from realtalk.errors import ConnectionClosed
from realtalk.transport import MemoryTransport, Transport, memory_transport_pair

pytestmark = pytest.mark.anyio

Pair = tuple[MemoryTransport, MemoryTransport]


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    """Two connected ends, both closed after the test (an unclosed stream warns)."""
    a, b = memory_transport_pair()
    yield a, b
    await a.aclose()
    await b.aclose()


async def test_messages_arrive_in_order_both_ways(pair: Pair) -> None:
    a, b = pair
    for text in ("one", "two", "three"):
        await a.send(text)  # unbounded: sending never waits for the reader
    await b.send("back")
    assert [await b.receive() for _ in range(3)] == ["one", "two", "three"]
    assert await a.receive() == "back"
    assert a.sent == ["one", "two", "three"]
    assert b.sent == ["back"]


async def test_receive_waits_for_the_peer(pair: Pair) -> None:
    a, b = pair
    got: list[str] = []

    async def read() -> None:
        got.append(await b.receive())

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        await anyio.wait_all_tasks_blocked()
        assert got == []
        await a.send("late")
    assert got == ["late"]


async def test_closing_one_end_ends_the_peers_reads_with_a_normal_close(pair: Pair) -> None:
    """Messages sent before the close are still delivered; then the peer's receive raises
    ConnectionClosed with code 1000."""
    a, b = pair
    await a.send("last words")
    await a.aclose()
    assert await b.receive() == "last words"
    with pytest.raises(ConnectionClosed, match="closed by peer") as closed:
        await b.receive()
    assert closed.value.code == 1000


async def test_a_closed_end_cannot_be_used(pair: Pair) -> None:
    a, _ = pair
    await a.aclose()
    with pytest.raises(ConnectionClosed, match="closed") as sending:
        await a.send("too late")
    assert sending.value.code == 1006
    assert a.sent == []  # what was not delivered is not recorded as sent
    with pytest.raises(ConnectionClosed):
        await a.receive()


async def test_sending_to_a_closed_peer_is_connection_closed(pair: Pair) -> None:
    a, b = pair
    await b.aclose()
    with pytest.raises(ConnectionClosed) as sending:
        await a.send("anyone there?")
    assert sending.value.code == 1006


async def test_a_reader_waiting_when_the_peer_closes_is_woken(pair: Pair) -> None:
    a, b = pair
    with anyio.fail_after(5):  # a safety net: the close must wake the reader, not a timeout
        async with anyio.create_task_group() as tg:
            async def close_soon() -> None:
                await anyio.wait_all_tasks_blocked()
                await a.aclose()
            tg.start_soon(close_soon)
            with pytest.raises(ConnectionClosed):
                await b.receive()


async def test_aclose_is_idempotent(pair: Pair) -> None:
    a, _ = pair
    ends: list[Transport] = list(pair)  # checked by mypy: each end is a Transport
    await a.aclose()
    await ends[0].aclose()
