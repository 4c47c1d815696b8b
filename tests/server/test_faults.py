"""Tests for realtalk.server.faults: the plan's triggers, sans-I/O, then every fault kind
through a real client over loopback (realtalk's own WebSocket client, both backends),
asserting what the client sees."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from realtalk.errors import ConfigurationError, ConnectError, ConnectionClosed, KeepaliveTimeout
from realtalk.server import (
    Drop,
    Fault,
    FaultPlan,
    Garble,
    RealtimeServer,
    ScriptedResponder,
    SendError,
    ServerOptions,
    Stall,
)
from realtalk.transport import Endpoint, Keepalive, Transport, connect_websocket

REPLY = "Hello there. This answer is long enough to come in several audio deltas."
DELTA = "response.output_audio.delta"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


# ---------------------------------------------------------------------------------------------
# The plan, sans-I/O
# ---------------------------------------------------------------------------------------------


def test_a_fault_fires_before_the_nth_event_of_its_type_once() -> None:
    plan = FaultPlan([Fault(Drop(), before=DELTA, nth=2), Fault(Stall(1.0), before=DELTA)])
    faults = plan.for_session(1, started_at=10.0)
    assert faults.before_send("response.created", 10.0) == []
    assert faults.before_send(DELTA, 10.0) == [Stall(1.0)]
    assert faults.before_send(DELTA, 10.0) == [Drop()]
    assert faults.before_send(DELTA, 10.0) == []
    assert [f.action for f in faults.fired] == [Stall(1.0), Drop()]


def test_timed_faults_fire_once_their_time_has_come_in_plan_order() -> None:
    plan = FaultPlan([Fault(SendError.server_error(), after=2.0),
                      Fault(Drop("close", 1001), after=2.0), Fault(Stall(), after=5.0)])
    faults = plan.for_session(1, started_at=10.0)
    assert faults.next_deadline() == 12.0
    assert faults.due(11.9) == []
    assert faults.due(12.0) == [SendError.server_error(), Drop("close", 1001)]
    assert faults.next_deadline() == 15.0
    # Due timed faults come first, then the event's own.
    assert faults.before_send(DELTA, 15.0) == [Stall()]
    assert faults.next_deadline() is None


def test_faults_apply_to_their_session_or_to_all() -> None:
    plan = FaultPlan([Fault(Drop(), before=DELTA, session=2),
                      Fault(Stall(), before=DELTA, session=None)])
    assert plan.for_session(1, 0.0).before_send(DELTA, 0.0) == [Stall()]
    assert plan.for_session(2, 0.0).before_send(DELTA, 0.0) == [Drop(), Stall()]
    assert not FaultPlan([Fault(Drop(), after=1.0, session=3)]).for_session(1, 0.0)


def test_a_random_plan_is_the_same_for_the_same_seed() -> None:
    actions = (Drop(), Drop("eof"), Stall(2.0), Garble())
    first = FaultPlan.random(7, sessions=3, per_session=2, actions=actions)
    assert first == FaultPlan.random(7, sessions=3, per_session=2, actions=actions)
    assert first != FaultPlan.random(8, sessions=3, per_session=2, actions=actions)
    assert [f.session for f in first.faults] == [1, 1, 2, 2, 3, 3]
    assert all(1 <= f.nth <= 20 and f.before == DELTA for f in first.faults)


@pytest.mark.parametrize(("build", "argument"), [
    (lambda: Fault(Drop()), "before"),
    (lambda: Fault(Drop(), before=DELTA, after=1.0), "before"),
    (lambda: Fault(Drop(), before=DELTA, nth=0), "nth"),
    (lambda: Fault("drop", before=DELTA), "action"),  # type: ignore[arg-type]
    (lambda: Drop("close", 1006), "code"),
    (lambda: Drop("explode"), "how"),  # type: ignore[arg-type]
    (lambda: Stall(-1.0), "seconds"),
    (lambda: FaultPlan(refuse_handshakes=1, refuse_status=200), "refuse_status"),
    (lambda: FaultPlan([Drop()]), "faults[0]"),  # type: ignore[list-item]
    (lambda: FaultPlan.random(1, actions=()), "event_types"),
])
def test_bad_plans_are_refused_naming_the_argument(build: Any, argument: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        build()
    assert info.value.argument == argument


# ---------------------------------------------------------------------------------------------
# Through a real client
# ---------------------------------------------------------------------------------------------


def _server(plan: FaultPlan, **options: Any) -> RealtimeServer:
    defaults: dict[str, Any] = {"first_audio_latency_ms": 0, "generation_speed": math.inf,
                                "chunk_ms": 100}
    return RealtimeServer(options=ServerOptions(**{**defaults, **options}),
                          responder_factory=lambda: ScriptedResponder([REPLY]), faults=plan)


@contextlib.asynccontextmanager
async def _client(server: RealtimeServer,
                  keepalive: Keepalive | None = None) -> AsyncIterator[Transport]:
    endpoint = Endpoint(url=f"{server.url}?model=gpt-realtime")
    async with connect_websocket(endpoint, keepalive=keepalive) as transport:
        yield transport


async def _frames_until_closed(transport: Transport) -> tuple[list[str], ConnectionClosed]:
    """Ask for a response and read every frame until the connection closes."""
    frames: list[str] = []
    await transport.send('{"type":"response.create"}')
    with anyio.fail_after(10):
        while True:
            try:
                frames.append(await transport.receive())
            except ConnectionClosed as exc:
                return frames, exc


def _types(frames: list[str]) -> list[str]:
    return [json.loads(frame)["type"] for frame in frames]


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["reset", "eof"])
async def test_a_drop_before_the_nth_delta_ends_the_connection_without_a_close_frame(
        how: Any) -> None:
    async with _server(FaultPlan([Fault(Drop(how), before=DELTA, nth=3)])) as server, \
            _client(server) as transport:
        frames, closed = await _frames_until_closed(transport)
    assert _types(frames).count(DELTA) == 2
    assert closed.code is None
    assert "no close frame" in str(closed)


@pytest.mark.anyio
async def test_a_clean_close_carries_its_code_and_reason() -> None:
    plan = FaultPlan([Fault(SendError.session_expired(), before="response.created"),
                      Fault(Drop("close", 1001, "Your session hit the maximum duration of 60 "
                                 "minutes."), before="response.created")])
    async with _server(plan) as server, _client(server) as transport:
        frames, closed = await _frames_until_closed(transport)
    error = json.loads(frames[-1])
    assert error["type"] == "error"
    assert error["error"]["code"] == "session_expired"
    assert "response.created" not in _types(frames)
    assert (closed.code, closed.reason) == (1001, "Your session hit the maximum duration of "
                                                  "60 minutes.")


@pytest.mark.anyio
async def test_a_drop_at_a_time_after_the_session_started() -> None:
    async with _server(FaultPlan([Fault(Drop("close", 4000, "timed"), after=0.2)])) as server, \
            _client(server) as transport:
        with anyio.fail_after(10):
            assert json.loads(await transport.receive())["type"] == "session.created"
            began = anyio.current_time()
            with pytest.raises(ConnectionClosed) as info:
                await transport.receive()  # nothing else is sent until the drop
        assert anyio.current_time() - began < 5
    assert info.value.code == 4000


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "code"), [(503, "service_unavailable"),
                                              (429, "rate_limit_exceeded")])
async def test_the_first_handshakes_are_refused_then_one_gets_through(status: int,
                                                                      code: str) -> None:
    plan = FaultPlan(refuse_handshakes=2, refuse_status=status)
    async with _server(plan) as server:
        for _ in range(2):
            with pytest.raises(ConnectError) as info:
                async with _client(server):
                    pass
            assert f"HTTP {status}" in str(info.value)
            assert code in str(info.value)
        async with _client(server) as transport:
            with anyio.fail_after(10):
                assert json.loads(await transport.receive())["type"] == "session.created"
        assert len(server.sessions) == 1


@pytest.mark.anyio
async def test_a_fault_for_the_second_session_leaves_the_first_alone() -> None:
    plan = FaultPlan([Fault(Drop(), before=DELTA, session=2)], refuse_handshakes=1)
    async with _server(plan) as server:
        with pytest.raises(ConnectError):
            async with _client(server):
                pass
        async with _client(server) as transport:  # session 1: untouched
            await transport.send('{"type":"response.create"}')
            with anyio.fail_after(10):
                frames = [await transport.receive()]
                while json.loads(frames[-1])["type"] != "response.done":
                    frames.append(await transport.receive())
        async with _client(server) as transport:  # session 2: dropped
            second, closed = await _frames_until_closed(transport)
    assert _types(frames).count(DELTA) > 1
    assert DELTA not in _types(second)
    assert closed.code is None


@pytest.mark.anyio
async def test_an_error_event_has_the_hosted_shape_and_the_session_goes_on() -> None:
    plan = FaultPlan([Fault(SendError.rate_limit(), before=DELTA, nth=2)])
    async with _server(plan) as server, _client(server) as transport:
        await transport.send('{"type":"response.create"}')
        with anyio.fail_after(10):
            frames = [json.loads(await transport.receive())]
            while frames[-1]["type"] != "response.done":
                frames.append(json.loads(await transport.receive()))
    types = [f["type"] for f in frames]
    error = frames[types.index("error")]
    assert error["error"] == {"type": "tokens", "code": "rate_limit_exceeded",
                              "message": SendError.rate_limit().message, "param": None,
                              "event_id": None}
    assert error["event_id"] == "event_fault1"
    assert types.index("error") == [i for i, t in enumerate(types) if t == DELTA][1] - 1
    assert frames[-1]["response"]["status"] == "completed"


@pytest.mark.anyio
async def test_invalid_json_takes_the_place_of_the_event_and_the_session_goes_on() -> None:
    async with _server(FaultPlan([Fault(Garble(), before=DELTA, nth=1)])) as server, \
            _client(server) as transport:
        await transport.send('{"type":"response.create"}')
        frames: list[Any] = []
        with anyio.fail_after(10):
            while not frames or frames[-1] != "response.done":
                text = await transport.receive()
                try:
                    frames.append(json.loads(text)["type"])
                except json.JSONDecodeError:
                    frames.append(text)
    broken = [f for f in frames if f.startswith("{")]
    assert len(broken) == 1 and broken[0].startswith('{"type":"' + DELTA)
    assert frames.index(broken[0]) < frames.index(DELTA)  # it took the first delta's place


@pytest.mark.anyio
async def test_a_text_frame_that_is_not_utf8_makes_the_client_close_with_1007() -> None:
    async with _server(FaultPlan([Fault(Garble("invalid_utf8"), before=DELTA)])) as server, \
            _client(server) as transport:
        frames, closed = await _frames_until_closed(transport)
    assert DELTA not in _types(frames)
    assert closed.code == 1007


@pytest.mark.anyio
async def test_a_frame_cut_mid_way_then_the_end_of_the_connection() -> None:
    plan = FaultPlan([Fault(Garble("truncated"), before=DELTA, nth=2)])
    async with _server(plan) as server, _client(server) as transport:
        frames, closed = await _frames_until_closed(transport)
    assert _types(frames).count(DELTA) == 1  # the second never arrived whole
    assert closed.code is None


@pytest.mark.anyio
async def test_a_stall_for_a_while_holds_everything_back_then_goes_on() -> None:
    plan = FaultPlan([Fault(Stall(0.3), before=DELTA, nth=2)])
    async with _server(plan) as server, _client(server) as transport:
        await transport.send('{"type":"response.create"}')
        arrived: dict[str, list[float]] = {}
        with anyio.fail_after(10):
            while "response.done" not in arrived:
                event_type = json.loads(await transport.receive())["type"]
                arrived.setdefault(event_type, []).append(anyio.current_time())
    first, second = arrived[DELTA][:2]
    assert second - first >= 0.3
    assert len(arrived[DELTA]) > 2  # nothing lost


@pytest.mark.anyio
async def test_a_stall_is_detected_by_the_keepalive_within_its_bound() -> None:
    """The stalled server answers no ping: the client's keepalive fails the connection
    within interval + timeout of the last frame, and not before the timeout."""
    keepalive = Keepalive(interval=0.1, timeout=0.4)
    async with _server(FaultPlan([Fault(Stall(), before=DELTA, nth=2)])) as server, \
            _client(server, keepalive) as transport:
        await transport.send('{"type":"response.create"}')
        last_frame = anyio.current_time()
        with anyio.fail_after(10):
            while True:
                try:
                    await transport.receive()
                except ConnectionClosed as exc:
                    closed = exc
                    break
                last_frame = anyio.current_time()
        silence = anyio.current_time() - last_frame
    assert isinstance(closed, KeepaliveTimeout)
    assert closed.timeout == 0.4
    assert closed.code == 1011
    assert "keepalive" in str(closed)
    assert keepalive.timeout <= silence <= keepalive.interval + keepalive.timeout + 1.0
