"""Tool calls under interruption, measured: is every call answered exactly once, whatever the
user does and whenever, and how long does the conversation's own machinery take?

Usage::

    python benchmarks/tools.py [--conversations N] [--seed N] [--jobs N] [--loopback N]

Prints progress lines, then one JSON object as the last line.

**The simulated conversations** (``--conversations``, default 1000; each a
:class:`realtalk.sim.Simulation`, the engine a live conversation runs, against the embedded
server, in virtual time). Each is drawn from ``--seed``:

- the user asks for something that names one of four tools (the embedded server calls a tool
  its user's message names), from a committed speech clip;
- the tools: ``order_status`` (returns a dict), ``book_callback`` (``on_interrupt="cancel"``),
  ``refund`` (raises), ``search`` (``timeout_s`` 2 s, ``on_interrupt="cancel"``); each call takes
  0-3 s of virtual time, so some time out;
- a quarter of the conversations declare ``tool_choice: "required"``, so the model calls a tool
  on every response and the chain runs into ``max_tool_steps`` (3);
- a barge-in at a random point: 40 % at a random time 0-5 s after the question (during the
  arguments, the call or nothing), 40 % 0.2-3 s into the spoken follow-up, 20 % none; with a
  second utterance naming a tool again in some, so that new calls start while old ones run.

Counted over all of them (each should be 0):

- ``unanswered_calls``: calls the server holds (its conversation's ``function_call`` items)
  without a ``function_call_output``, once the conversation has been quiet for 15 s;
- ``duplicate_runs``: calls whose tool started more than once;
- ``duplicate_outputs``: calls answered more than once (outputs the server received);
- ``wedged_conversations``: at the end, a tool still running, a cancel never confirmed, or a
  user turn no response followed within 10 s;
- ``protocol_errors``: ``error`` events from the server that realtalk did not absorb as benign
  races (an output for an unknown call, a response while one is active, ...);
- ``followups_over_user``: tool follow-ups (``response.create`` sent by the tool ledger) asked
  for while the user was talking whose speech then ran on over them for more than 60 ms.
  Reported beside it: ``followups_requested_during_speech``, all follow-ups asked for while
  the user talked (in the first tens of milliseconds of their speech, before any detector
  could tell; their speech then yields at its first frame). A follow-up asked for before the
  user began is barged in on like any reply.

Latency of realtalk's own work (each should be well under 1 ms):

- ``call_start_ms`` {p50, p99}: wall time of the engine step that receives a call's complete
  arguments and starts the tool (simulated); and, over ``--loopback`` calls (default 200)
  through a real :class:`realtalk.Conversation` and the embedded server on loopback,
  ``loopback_call_start_ms``: the client reading the ``response.function_call_arguments.done``
  frame -> the tool's function entered (an async tool: the event loop's task switch; a sync
  tool: the hop to a worker thread too, ``loopback_sync_call_start_ms``).
- ``output_to_response_ms`` {p50, p99}: wall time of the engine step that takes a tool's result
  and sends its output and the follow-up ``response.create``.

Virtual-time counts are exact and deterministic given ``--seed``; wall-clock figures vary with
the machine (compare ratios within one run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio

import realtalk
from realtalk.echo import EchoDefences
from realtalk.providers import Provider
from realtalk.session_config import SessionConfig
from realtalk.sim import RoomConfig, Simulation, UserSpoke, Utterance, load_clip
from realtalk.transport import Transport
from realtalk.wire import ServerError, parse_server_event

QUESTIONS = ("weather_tomorrow", "wait_stop")  # committed clips: any speech will do
TOOL_NAMES = ("order_status", "book_callback", "refund", "search")


@realtalk.tool
def order_status(order_id: str = "A-1") -> dict[str, str]:
    """Where an order is."""
    return {"order": order_id, "status": "shipped"}


@realtalk.tool(on_interrupt="cancel")
def book_callback(slot: str = "morning") -> str:
    """Book a call back."""
    return f"booked for the {slot}"


@realtalk.tool
def refund(order_id: str = "A-1") -> str:
    """Refund an order (this one always fails)."""
    raise PermissionError(f"order {order_id} is past the refund window")


@realtalk.tool(timeout_s=2.0, on_interrupt="cancel")
def search(query: str = "flights") -> str:
    """Search."""
    return f"three results for {query}"


TOOLS = (order_status, book_callback, refund, search)


class _MeasuredSimulation(Simulation):
    """A simulation that also keeps what the client sent (with the virtual time) and the
    wall time of the engine steps that start tools and answer them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[float, dict[str, Any]]] = []
        self.call_start_s: list[float] = []
        self.output_to_response_s: list[float] = []
        self.server_errors: list[ServerError] = []
        engine = self.engine
        server_frame, tool_finished = engine.server_frame, engine.tool_finished

        def timed_server_frame(frame: str | bytes, now: float) -> None:
            started = time.perf_counter()
            server_frame(frame, now)
            took = time.perf_counter() - started
            event = parse_server_event(frame)
            if event.type == "response.function_call_arguments.done":
                self.call_start_s.append(took)
            elif isinstance(event, ServerError):
                self.server_errors.append(event)

        def timed_tool_finished(call_id: str, now: float, **kwargs: Any) -> None:
            started = time.perf_counter()
            tool_finished(call_id, now, **kwargs)
            self.output_to_response_s.append(time.perf_counter() - started)

        engine.server_frame = timed_server_frame  # type: ignore[method-assign]
        engine.tool_finished = timed_tool_finished  # type: ignore[method-assign]

    def _send(self, to_server: bool, frame: str, now: float) -> None:
        if to_server and not frame.startswith('{"type":"input_audio_buffer.append"'):
            self.sent.append((now, json.loads(frame)))
        super()._send(to_server, frame, now)


def _conversation(seed: int) -> dict[str, Any]:
    """One random conversation; what it counted."""
    rng = random.Random(seed)
    clips = {name: load_clip(name)[0] for name in QUESTIONS}
    first_tool = rng.choice(TOOL_NAMES)
    user = [Utterance(samples=clips["weather_tomorrow"],
                      text=f"Please use {first_tool.replace('_', ' ')} for me.", at=0.5)]
    kind = rng.random()
    second_text = rng.choice(["Wait, stop.", "Hold on.",
                              f"Actually, try {rng.choice(TOOL_NAMES)} instead."])
    if kind < 0.4:
        user.append(Utterance(samples=clips["wait_stop"], text=second_text,
                              at=2.5 + rng.uniform(0.0, 5.0)))
    elif kind < 0.8:
        user.append(Utterance(samples=clips["wait_stop"], text=second_text,
                              after_assistant_starts=rng.uniform(0.2, 3.0)))
    required = rng.random() < 0.25
    config = SessionConfig(extra={"tool_choice": "required"}) if required else None
    latencies = {name: rng.uniform(0.0, 3.0) for name in TOOL_NAMES}
    sim = _MeasuredSimulation(
        user, room=RoomConfig.quiet_office(echo_gain_db=-30.0), config=config,
        transcriber_factory="oracle", tools=TOOLS, seed=seed,
        tool_latency_s=lambda call: latencies.get(call.name, 0.5),
        # Echo is not what this measures: the canceller's cost is left out.
        echo=EchoDefences(canceller=None, watch=None, transcript_filters=None))
    result = sim.run(18.0)
    result = sim.run(15.0)  # quiet: everything still owed must arrive
    return _count(sim, result.timeline)


def _count(sim: _MeasuredSimulation, timeline: Sequence[object]) -> dict[str, Any]:
    items = list(sim.server.conversation)
    calls = [i for i in items if i.type == "function_call"]
    outputs = Counter(payload["item"]["call_id"] for _, payload in sim.sent
                      if payload["type"] == "conversation.item.create"
                      and payload["item"].get("type") == "function_call_output")
    starts = Counter(e.call.call_id for e in timeline if isinstance(e, realtalk.ToolCallStarted))
    speech = [(e.at, e.at + e.duration_ms / 1000.0) for e in timeline
              if isinstance(e, UserSpoke)]
    follow_ups = [at for at, payload in sim.sent if payload["type"] == "response.create"
                  and str(payload.get("event_id", "")).startswith("rt_tool_")]
    during_speech = [any(start <= at <= end for start, end in speech) for at in follow_ups]
    requested_during_speech = sum(during_speech)
    # Over the user: asked for while they talked, and its speech then ran on over them. (One
    # asked for before they began is barged in on like any reply: the barge-in benchmark's
    # business, not the ledger's.)
    over_user = sum(during and _overlap_ms(played, speech) > _OVERLAP_MS
                    for during, played in zip(during_speech,
                                              _follow_up_playback(timeline, follow_ups),
                                              strict=True))
    engine = sim.engine
    ledger = engine.tool_calls
    assert ledger is not None
    last_turn = max((e.at for e in timeline if isinstance(e, realtalk.UserTranscript)),
                    default=None)
    answered_turn = last_turn is None or any(
        isinstance(e, realtalk.ResponseStarted) and last_turn <= e.at <= last_turn + 10.0
        for e in timeline)
    wedged = bool(ledger.running) or engine.state is realtalk.State.CANCELLING \
        or not answered_turn
    benign = {"response_cancel_not_active"}
    errors = [e for e in sim.server_errors if e.error.code not in benign]
    return {
        "calls": len(calls),
        "unanswered_calls": sum(1 for c in calls if outputs[c.fields.get("call_id")] == 0),
        "duplicate_outputs": sum(1 for n in outputs.values() if n > 1),
        "duplicate_runs": sum(1 for n in starts.values() if n > 1),
        "wedged": int(wedged),
        "protocol_errors": len(errors),
        "error_codes": [e.error.code for e in errors],
        "followups": len(follow_ups),
        "followups_over_user": over_user,
        "followups_requested_during_speech": requested_during_speech,
        "interruptions": len(engine.interruptions),
        "cancelled_calls": sum(isinstance(e, realtalk.ToolCallCancelled) for e in timeline),
        "call_start_s": sim.call_start_s,
        "output_to_response_s": sim.output_to_response_s,
    }


#: Overlap that counts as talking over the user: more than a frame or two of the assistant's
#: voice while the user speaks (a yield takes effect within the frame that detects it).
_OVERLAP_MS = 60.0


def _follow_up_playback(timeline: Sequence[object],
                        follow_ups: Sequence[float]) -> list[tuple[float, float]]:
    """When each follow-up's speech played: from its audio's start to the assistant's next
    stop or end (the first response started after each follow-up request is its answer); an
    empty span for one that never played."""
    played = []
    for sent_at in follow_ups:
        started = next((e for e in timeline if isinstance(e, realtalk.ResponseStarted)
                        and e.at >= sent_at), None)
        audio = None if started is None else next(
            (e for e in timeline if isinstance(e, realtalk.ResponseAudioStarted)
             and e.response_id == started.response_id), None)
        if audio is None:
            played.append((sent_at, sent_at))
            continue
        end = next((e.at for e in timeline if isinstance(e, realtalk.StateChanged)
                    and e.old is realtalk.State.SPEAKING and e.at >= audio.at), math.inf)
        played.append((audio.at, end))
    return played


def _overlap_ms(played: tuple[float, float], speech: Sequence[tuple[float, float]]) -> float:
    """How long speech that started while the user was already talking ran over them (a
    user who talks over speech already playing is a barge-in, not this)."""
    start, end = played
    return 1000.0 * sum(min(end, e) - start for s, e in speech if s <= start <= e)


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": math.nan, "p99": math.nan, "n": 0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return {"p50": round(statistics.median(ordered) * 1000, 4), "p99": round(p99 * 1000, 4),
            "n": len(ordered)}


# -- loopback: a real Conversation ---------------------------------------------------------------

class _StampingTransport:
    """A transport that notes when each ``arguments.done`` frame is read."""

    def __init__(self, inner: Transport, received: dict[str, float]) -> None:
        self.inner, self.received = inner, received

    async def send(self, message: str) -> None:
        await self.inner.send(message)

    async def receive(self) -> str:
        frame = await self.inner.receive()
        if '"response.function_call_arguments.done"' in frame:
            self.received["at"] = time.perf_counter()
        return frame

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Stamping:
    """A provider whose transports are :class:`_StampingTransport`."""

    def __init__(self, inner: Provider, received: dict[str, float]) -> None:
        self.inner, self.received = inner, received
        self.shape = inner.shape

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Transport]:
        async with self.inner.connect() as transport:
            yield _StampingTransport(transport, self.received)


async def _loopback(calls: int, *, sync: bool) -> list[float]:
    """Client reads arguments.done -> the tool's function entered, over ``calls`` calls."""
    received: dict[str, float] = {}
    delays: list[float] = []

    def entered(order_id: str) -> str:
        delays.append(time.perf_counter() - received.pop("at"))
        return "ok"

    async def entered_async(order_id: str) -> str:
        return entered(order_id)

    probe = realtalk.tool(name="order_status")(entered if sync else entered_async)

    provider = _Stamping(realtalk.providers.local(first_audio_latency_ms=1.0,
                                                  generation_speed=50.0), received)
    async with realtalk.Conversation(provider, tools=[probe]) as conv:
        for _ in range(calls):
            await conv.send_text("check the order status")
            async for event in conv.events():
                if isinstance(event, realtalk.AssistantTranscript):
                    break  # the spoken follow-up: the next request may go
    return delays


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--loopback", type=int, default=200)
    args = parser.parse_args(argv)
    seeds = [args.seed * 1_000_003 + k for k in range(args.conversations)]
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for k, result in enumerate(pool.imap(_conversation, seeds, chunksize=8), 1):
            results.append(result)
            if k % 100 == 0 or k == len(seeds):
                print(f"{k}/{len(seeds)} conversations, {time.perf_counter() - started:.0f} s",
                      file=sys.stderr, flush=True)
    loop_async = anyio.run(lambda: _loopback(args.loopback, sync=False))
    loop_sync = anyio.run(lambda: _loopback(args.loopback, sync=True))

    def total(key: str) -> int:
        return sum(int(r[key]) for r in results)

    codes = Counter(code for r in results for code in r["error_codes"])
    summary = {
        "conversations": len(results),
        "calls": total("calls"),
        "interruptions": total("interruptions"),
        "cancelled_calls": total("cancelled_calls"),
        "followups": total("followups"),
        "unanswered_calls": total("unanswered_calls"),
        "duplicate_runs": total("duplicate_runs"),
        "duplicate_outputs": total("duplicate_outputs"),
        "wedged_conversations": total("wedged"),
        "protocol_errors": total("protocol_errors"),
        "protocol_error_codes": dict(codes),
        "followups_over_user": total("followups_over_user"),
        "followups_requested_during_speech": total("followups_requested_during_speech"),
        "call_start_ms": _percentiles([x for r in results for x in r["call_start_s"]]),
        "output_to_response_ms": _percentiles(
            [x for r in results for x in r["output_to_response_s"]]),
        "loopback_call_start_ms": _percentiles(loop_async),
        "loopback_sync_call_start_ms": _percentiles(loop_sync),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
