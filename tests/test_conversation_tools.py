"""Conversation(tools=...): calls run in the conversation's event loop (async tools) or a worker
thread (sync tools), are answered once, and the conversation goes on whatever a tool does.
In virtual time, against a scripted server that makes the calls."""

from __future__ import annotations

import json
import threading
from typing import Any

import anyio
import pytest

import realtalk
from realtalk import wire as ev
from realtalk.errors import ConnectionClosed
from realtalk.testing import MemoryProvider, virtual_backend
from realtalk.tools.calls import ToolCallCancelled, ToolCallFinished, ToolCallStarted
from realtalk.transport import MemoryTransport

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return virtual_backend(request.param)


@realtalk.tool
async def weather(city: str) -> dict[str, Any]:
    """Today's weather in a city."""
    await anyio.sleep(0.4)
    return {"city": city, "sky": "clear"}


THREADS: list[str] = []


@realtalk.tool
def opening_hours(day: str) -> str:
    """When the shop opens."""
    THREADS.append(threading.current_thread().name)
    return f"{day}: 9 to 5"


@realtalk.tool
def broken(reason: str) -> str:
    """Always fails."""
    raise LookupError(reason)


SEARCHES_COMPLETED: list[str] = []


@realtalk.tool(timeout_s=1.0, on_interrupt="cancel")
async def slow_search(query: str) -> str:
    """Search, slowly."""
    await anyio.sleep(10)
    SEARCHES_COMPLETED.append(query)  # never, when the conversation stops it
    return "found it"


def _call_events(rid: str, call_id: str, name: str, arguments: dict[str, Any],
                 ) -> list[ev.ServerEvent]:
    item = {"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": name,
            "arguments": json.dumps(arguments), "status": "completed"}
    return [
        ev.ResponseOutputItemAdded(response_id=rid, item={**item, "arguments": "",
                                                         "status": "in_progress"}),
        ev.ResponseFunctionCallArgumentsDone(response_id=rid, item_id=f"fc_{call_id}",
                                             call_id=call_id, name=name,
                                             arguments=json.dumps(arguments)),
        ev.ResponseOutputItemDone(response_id=rid, item=item),
    ]


class ToolServer:
    """A server that makes the given calls in one response, then records what the client
    sends back: the outputs (with their virtual arrival times) and any response.create."""

    def __init__(self, calls: list[tuple[str, dict[str, Any]]],
                 speech_at: float | None = None) -> None:
        self.calls = calls
        self.speech_at = speech_at
        self.outputs: dict[str, tuple[float, str]] = {}
        self.follow_ups: list[dict[str, Any]] = []
        self.declared: list[str] = []
        self._changed = anyio.Event()

    async def wait_for(self, outputs: int, follow_ups: int) -> None:
        """Until this many outputs and follow-ups have arrived."""
        while len(self.outputs) < outputs or len(self.follow_ups) < follow_ups:
            await self._changed.wait()

    async def __call__(self, t: MemoryTransport) -> None:
        update = json.loads(await t.receive())
        self.declared = [tool["name"] for tool in update["session"]["tools"]]
        events: list[ev.ServerEvent] = [ev.ResponseCreated(response=ev.ResponseInfo(id="r1"))]
        for k, (name, arguments) in enumerate(self.calls):
            events += _call_events("r1", f"call_{k}", name, arguments)
        events.append(ev.ResponseDone(response=ev.ResponseInfo(id="r1", status="completed")))
        for event in events:
            await t.send(ev.encode(event))
        async with anyio.create_task_group() as tg:
            if self.speech_at is not None:
                tg.start_soon(self._user_speaks, t, self.speech_at)
            try:
                while True:
                    frame = json.loads(await t.receive())
                    if frame["type"] == "conversation.item.create":
                        item = frame["item"]
                        self.outputs[item["call_id"]] = (anyio.current_time(), item["output"])
                    elif frame["type"] == "response.create":
                        self.follow_ups.append(frame)
                    self._changed.set()
                    self._changed = anyio.Event()
            except ConnectionClosed:  # the conversation ended
                tg.cancel_scope.cancel()

    @staticmethod
    async def _user_speaks(t: MemoryTransport, at: float) -> None:
        await anyio.sleep_until(at)
        await t.send(ev.encode(ev.InputAudioBufferSpeechStarted(item_id="u1",
                                                                audio_start_ms=0)))


async def _converse(server: ToolServer, tools: list[realtalk.Tool], *, outputs: int,
                    follow_ups: int, then_s: float = 0.0) -> list[realtalk.AppEvent]:
    """Converse until the server has this many outputs and follow-ups, and ``then_s`` more
    seconds (virtual time only: to see that nothing more comes)."""
    seen: list[realtalk.AppEvent] = []

    async def collect(conv: realtalk.Conversation) -> None:
        async for event in conv.events():
            seen.append(event)

    async with realtalk.Conversation(MemoryProvider(server), tools=tools) as conv, \
            anyio.create_task_group() as tg:
        tg.start_soon(collect, conv)
        with anyio.fail_after(10):  # a safety net: the calls take well under a second
            await server.wait_for(outputs, follow_ups)
        await anyio.sleep(then_s)
        tg.cancel_scope.cancel()
    return seen


# Sync tools run on the real clock: a virtual clock jumps ahead whenever every task waits,
# a worker thread included. Nothing here sleeps on it; the test waits for the outputs.
REAL_TIME = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


@REAL_TIME
async def test_async_and_sync_tools_run_and_are_answered_then_followed_up_once() -> None:
    THREADS.clear()
    server = ToolServer([("weather", {"city": "Oslo"}), ("opening_hours", {"day": "monday"})])
    start = anyio.current_time()
    seen = await _converse(server, [weather, opening_hours], outputs=2, follow_ups=1)
    assert server.declared == ["weather", "opening_hours"]
    assert server.outputs["call_1"][1] == "monday: 9 to 5"
    assert json.loads(server.outputs["call_0"][1]) == {"city": "Oslo", "sky": "clear"}
    # The async tool took its 0.4 s of loop time; its output left as it returned.
    assert server.outputs["call_0"][0] - start >= 0.4
    assert THREADS and THREADS[0] != threading.main_thread().name  # a worker thread
    assert len(server.follow_ups) == 1
    assert sum(isinstance(e, ToolCallStarted) for e in seen) == 2
    assert sum(isinstance(e, ToolCallFinished) for e in seen) == 2


@REAL_TIME
async def test_a_tool_that_raises_is_an_error_output_and_the_conversation_goes_on() -> None:
    server = ToolServer([("broken", {"reason": "no such order"})])
    seen = await _converse(server, [broken], outputs=1, follow_ups=1)
    output = json.loads(server.outputs["call_0"][1])
    assert output == {"error": "broken failed: LookupError: no such order"}
    (finished,) = [e for e in seen if isinstance(e, ToolCallFinished)]
    assert finished.error == "LookupError: no such order"
    assert len(server.follow_ups) == 1  # the model can tell the user


async def test_a_tool_past_its_timeout_is_stopped_and_answered_at_the_timeout() -> None:
    SEARCHES_COMPLETED.clear()
    server = ToolServer([("slow_search", {"query": "flights"})])
    start = anyio.current_time()
    seen = await _converse(server, [slow_search], outputs=1, follow_ups=1, then_s=20)
    at, output = server.outputs["call_0"]
    assert at - start == pytest.approx(1.0, abs=0.05)
    assert "timed out after 1 s" in output
    assert SEARCHES_COMPLETED == []  # stopped, not left running
    assert [type(e) for e in seen if isinstance(e, ToolCallFinished | ToolCallCancelled)] == \
        [ToolCallFinished]


async def test_user_speech_stops_a_cancel_policy_tool_and_no_follow_up_starts() -> None:
    server = ToolServer([("slow_search", {"query": "flights"}),
                         ("weather", {"city": "Rome"})], speech_at=0.2)
    SEARCHES_COMPLETED.clear()
    start = anyio.current_time()
    seen = await _converse(server, [slow_search, weather], outputs=2, follow_ups=0,
                           then_s=20)
    at, output = server.outputs["call_0"]
    assert at - start == pytest.approx(0.2, abs=0.05)
    assert "the user interrupted" in output
    assert SEARCHES_COMPLETED == []
    # The other call finishes and is delivered; the user's turn gets the reply.
    assert json.loads(server.outputs["call_1"][1])["city"] == "Rome"
    assert server.follow_ups == []
    assert any(isinstance(e, ToolCallCancelled) for e in seen)
