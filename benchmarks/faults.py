"""Faults at random points, measured: does a reconnecting conversation recover, and what does
it lose or repeat?

Usage::

    python benchmarks/faults.py [--quick] [--seed N] [--jobs N] [--conversations N]

Prints progress lines, then one JSON object as the last line.

**The conversations** (default 500; ``--quick`` 40). Each is a real
:class:`realtalk.Conversation` (``reconnect=realtalk.Reconnect()``, the default settings and a
seeded jitter; a microphone, local barge-in, a tool, a transcript store) against the embedded
server in process (:class:`realtalk.testing.InProcessServer`), in virtual time, so seconds of
speech take no wall time. The user, in synthetic speech: asks a question and hears the reply;
asks for a story and barges in 0.5-2 s into it (a cancel and a truncate); asks for something
that names the tool (a function call, its output, the spoken follow-up); says goodbye. The
conversation's ``seed`` (from ``--seed``) draws one fault (a reset, an EOF, a 1001 close or a
frame cut off, which all end an in-process connection alike) at a random point of one kind,
in turn:

- ``user_speech``: before the server's Nth ``speech_started`` or ``committed``;
- ``assistant_speech``: before its Nth audio delta (1-60);
- ``cancel``: before the ``response.done`` of the cancelled story;
- ``truncate``: before the ``conversation.item.truncated`` of the barge-in;
- ``tool_call``: before an argument delta or the arguments' ``done``;
- ``restore``: mid-reply on the first session, then before the 1st or 2nd recreated item on
  the second (the loss of the restore itself).

Counted (the first five should be 0):

- ``wedged``: conversations where nothing happened for 10 s of virtual time while they were
  not quiet (a reply, a reconnect or a tool still under way);
- ``transcripts_lost``: transcripts the client received from the server (a user turn's, or an
  assistant reply's ``transcript.done``) that the transcript store does not have;
- ``transcripts_duplicated``: transcripts the store has twice (the same item);
- ``context_items_lost``: transcripts stored from a session before the last one that the last
  session's conversation does not hold (an assistant reply may come back shorter: cut where
  it was heard);
- ``duplicate_replies``: two assistant replies in a row, with no user turn or tool call
  between, in the conversation as lived (each session's own items, after its restore);
- ``recovered_pct``: of the conversations whose connection was lost, those that were restored
  and had the last turn answered, without a fatal error;
- ``recovery_ms`` {p50, p95}: loss detected -> context restored (``Reconnected.downtime_s``:
  the backoff's wait, the new connection, the restore sent), in virtual time.

Everything is in virtual time and deterministic given ``--seed``.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import attrs
import numpy as np
from barge_in import bench_arguments, run_work

import realtalk
from realtalk.audio import MemoryInput, MemoryOutput
from realtalk.server import (
    Drop,
    Fault,
    FaultPlan,
    Garble,
    ScriptedResponder,
    ServerOptions,
    SyntheticVoice,
)
from realtalk.server.faults import FaultAction
from realtalk.testing import InProcessServer, MemoryTranscriptStore, run_virtual
from realtalk.transcripts import TranscriptRecord
from realtalk.transport import Transport

KINDS = ("user_speech", "assistant_speech", "cancel", "truncate", "tool_call", "restore")
ACTIONS: tuple[FaultAction, ...] = (
    Drop("reset"), Drop("eof"),
    Drop("close", 1001, "Your session hit the maximum duration of 60 minutes."),
    Garble("truncated"))
REPLIES = ["It is sunny and mild today, with a light breeze from the west.",
           "Once upon a time, in a small town by the sea, there lived an old clockmaker who "
           "repaired every clock in the town, and one winter morning a stranger came by.",
           "All right, I will stop there.",
           "Your order is on its way.",
           "You are welcome, goodbye."]
TURNS = ["What is the weather like today?", "Please tell me a long story.",
         "Wait, stop there please.", "What does lookup order say about my parcel?",
         "Thanks, that is all."]
QUIET_S = 1.0  # a step is over once the conversation has been quiet this long
WEDGED_S = 10.0  # nothing for this long while not quiet: wedged


@realtalk.tool
async def lookup_order(order_id: str = "A-1") -> str:
    """Look an order up."""
    await anyio.sleep(0.3)
    return f"order {order_id}: shipped"


def plan_for(kind: str, rng: random.Random) -> FaultPlan:
    """One fault of ``kind`` at a random point (two for ``restore``)."""
    action = rng.choice(ACTIONS)
    before, nth = {
        "user_speech": (rng.choice(["input_audio_buffer.speech_started",
                                    "input_audio_buffer.committed"]), rng.randint(1, 4)),
        "assistant_speech": ("response.output_audio.delta", rng.randint(1, 60)),
        "cancel": ("response.done", 2),
        "truncate": ("conversation.item.truncated", 1),
        "tool_call": (rng.choice(["response.function_call_arguments.delta",
                                  "response.function_call_arguments.done"]), 1),
        "restore": ("response.output_audio.delta", rng.randint(5, 40)),
    }[kind]
    faults = [Fault(action, before=before, nth=nth, session=1)]
    if kind == "restore":
        faults.append(Fault(rng.choice(ACTIONS), before="conversation.item.added",
                            nth=rng.randint(1, 2), session=2))
    return FaultPlan(faults)


class _Saying:
    """A transcriber that hears what the scripted user is saying (one speaker at a time)."""

    def __init__(self, user: _User) -> None:
        self._user = user

    def transcribe(self, audio: Any, sample_rate: int) -> str:
        return self._user.saying


@attrs.define
class _User:
    saying: str = ""


class _Tap:
    """The server as a provider, noting each frame the client receives."""

    def __init__(self, server: InProcessServer) -> None:
        self.server = server
        self.shape = server.shape
        self.received: list[str] = []

    def connect(self) -> AbstractAsyncContextManager[Transport]:
        return self._connect()

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[Transport]:
        async with self.server.connect() as transport:
            yield _TappedTransport(transport, self.received)


class _TappedTransport:
    def __init__(self, inner: Transport, received: list[str]) -> None:
        self._inner = inner
        self._received = received

    async def send(self, message: str) -> None:
        await self._inner.send(message)

    async def receive(self) -> str:
        message = await self._inner.receive()
        self._received.append(message)
        return message

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Watch:
    """Reads the conversation's events; knows when it last moved and whether it is quiet."""

    def __init__(self, conv: realtalk.Conversation) -> None:
        self.conv = conv
        self.events: list[Any] = []
        self.moved = anyio.Event()

    async def read(self) -> None:
        async for event in self.conv.events():
            self.events.append(event)
            self.moved.set()

    def quiet(self) -> bool:
        engine = self.conv.engine
        return self.conv.closed or (
            engine.state is realtalk.State.LISTENING
            and not (engine.detector is not None and engine.detector.speaking)
            and not engine.reconnecting and not engine.context.responses_in_progress
            and not (engine.tool_calls is not None and engine.tool_calls.unanswered))

    async def settle(self) -> bool:
        """Wait until quiet for :data:`QUIET_S`; ``False`` if stuck for :data:`WEDGED_S`."""
        idle = 0.0
        while True:
            self.moved = anyio.Event()
            with anyio.move_on_after(QUIET_S):
                await self.moved.wait()
                idle = 0.0
                continue
            if self.quiet():
                return True
            idle += QUIET_S
            if idle >= WEDGED_S:
                return False

    async def until_speaking(self) -> bool:
        """Wait for the assistant to speak; ``False`` if nothing came for :data:`WEDGED_S`
        while not quiet (quiet: the turn asking for it was lost with a connection, and the
        user goes on)."""
        with anyio.move_on_after(WEDGED_S):
            while self.conv.state is not realtalk.State.SPEAKING:
                self.moved = anyio.Event()
                await self.moved.wait()
            return True
        return self.quiet()


async def _converse(seed: int, kind: str) -> dict[str, Any]:
    rng = random.Random(seed)
    user = _User()
    server = InProcessServer(
        options=ServerOptions(first_audio_latency_ms=200.0, generation_speed=1.0, chunk_ms=100),
        responder_factory=lambda: ScriptedResponder(REPLIES), transcriber_factory=lambda:
        _Saying(user), faults=plan_for(kind, rng), seed=seed)
    tap = _Tap(server)
    mic = MemoryInput(noise_dbfs=-70.0, seed=seed)
    store = MemoryTranscriptStore()
    voice = SyntheticVoice(seed=seed)
    wedged = False
    last_turn_at = 0
    async with realtalk.Conversation(
            tap, input=mic, output=MemoryOutput(), barge_in=realtalk.BargeIn(),
            transcripts=store, tools=[lookup_order],
            reconnect=realtalk.Reconnect(rng=random.Random(seed))) as conv:
        watch = _Watch(conv)
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch.read)
            for n, text in enumerate(TURNS):
                if n == 2:  # the barge-in, into the story
                    if not await watch.until_speaking():
                        wedged = True
                        break
                    if conv.state is realtalk.State.SPEAKING:
                        await anyio.sleep(rng.uniform(0.5, 2.0))
                elif not await watch.settle():
                    wedged = True
                    break
                user.saying = text
                last_turn_at = len(watch.events)
                speech = voice.synthesize(text).samples
                mic.push(speech)
                await anyio.sleep(len(speech) / 24_000)  # the user talks to the end
            else:
                wedged = not await watch.settle()
            tg.cancel_scope.cancel()
        events = watch.events
    return _count(server, tap, store, events, wedged=wedged, last_turn_at=last_turn_at,
                  simulated_s=anyio.current_time())


def _count(server: InProcessServer, tap: _Tap, store: MemoryTranscriptStore,
           events: Sequence[Any], *, wedged: bool, last_turn_at: int,
           simulated_s: float) -> dict[str, Any]:
    received: set[tuple[str, str]] = set()
    for frame in tap.received:
        event = json.loads(frame)
        if event["type"] == "conversation.item.input_audio_transcription.completed":
            received.add(("user", event["item_id"]))
        elif event["type"] == "response.output_audio_transcript.done":
            received.add(("assistant", event["item_id"]))
    records = [r for r in store.entries() if isinstance(r, TranscriptRecord)]
    stored = Counter((r.role, r.item_id) for r in records)
    session_of = {item.id: n for n, s in enumerate(server.sessions) for item in s.conversation}
    last = server.sessions[-1]
    held = [item.text() for item in last.conversation if item.text()]
    context_lost = sum(
        1 for r in records if r.text and not r.dropped and session_of.get(
            r.item_id or "", len(server.sessions)) < len(server.sessions) - 1 and not any(
            h == r.text or (r.role == "assistant" and (h.startswith(r.text)
                                                       or r.text.startswith(h)))
            for h in held))
    reconnected = [e for e in events if isinstance(e, realtalk.Reconnected)]
    restored = [e.items_restored for e in reconnected]
    lived: list[str] = []
    for n, session in enumerate(server.sessions):
        skip = restored[n - 1] if 0 < n <= len(restored) else 0
        for item in list(session.conversation)[skip:]:
            lived.append("assistant" if item.role == "assistant" and item.type == "message"
                         else "other")
    duplicate_replies = sum(1 for a, b in itertools.pairwise(lived) if a == b == "assistant")
    lost = any(isinstance(e, realtalk.Reconnecting) for e in events)
    fatal = any(isinstance(e, realtalk.ErrorOccurred) and e.fatal for e in events)
    answered = any(isinstance(e, realtalk.ResponseStarted) for e in events[last_turn_at:])
    return {
        "lost": lost,
        "recovered": lost and bool(reconnected) and answered and not fatal and not wedged,
        "wedged": wedged,
        "transcripts_lost": len(received - set(stored)),
        "transcripts_duplicated": sum(c - 1 for c in stored.values() if c > 1),
        "context_items_lost": context_lost,
        "duplicate_replies": duplicate_replies,
        "recovery_ms": [e.downtime_s * 1000.0 for e in reconnected],
        "sessions": len(server.sessions),
        "simulated_s": simulated_s,
    }


@attrs.frozen
class Outcome:
    index: int
    simulated_s: float
    counts: dict[str, Any]


def conversation(seed: int, kind: str) -> dict[str, Any]:
    """One conversation with a fault of ``kind``, run in virtual time: its counts."""
    return run_virtual(_converse, seed, kind)


def run_chunk(kind: str, seeds: Sequence[int]) -> list[Outcome]:
    # Each loss logs a warning: hundreds of them would bury the progress lines.
    logging.getLogger("realtalk").setLevel(logging.ERROR)
    outcomes = []
    for seed in seeds:
        counts = conversation(seed, kind)
        outcomes.append(Outcome(seed, counts["simulated_s"], counts))
    return outcomes


def _percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    return {"p50": round(float(np.percentile(values, 50)), 1),
            "p95": round(float(np.percentile(values, 95)), 1)}


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The report over ``results`` (each from :func:`conversation`)."""
    lost = [r for r in results if r["lost"]]
    recovery = [ms for r in results for ms in r["recovery_ms"]]
    return {
        "conversations": len(results),
        "connections_lost": len(lost),
        "wedged": sum(r["wedged"] for r in results),
        "transcripts_lost": sum(r["transcripts_lost"] for r in results),
        "transcripts_duplicated": sum(r["transcripts_duplicated"] for r in results),
        "context_items_lost": sum(r["context_items_lost"] for r in results),
        "duplicate_replies": sum(r["duplicate_replies"] for r in results),
        "recovered_pct": round(100.0 * sum(r["recovered"] for r in lost) / len(lost), 1)
        if lost else None,
        "recovery_ms": _percentiles(recovery),
        "reconnects": len(recovery),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--conversations", type=int, default=None,
                        help="conversations to run (default 500; 40 with --quick)")
    args = parser.parse_args(argv)
    total = args.conversations or (40 if args.quick else 500)
    started = time.perf_counter()
    seeds = [args.seed * 1_000_003 + n for n in range(total)]
    by_kind = {kind: [s for n, s in enumerate(seeds) if n % len(KINDS) == k]
               for k, kind in enumerate(KINDS)}
    size = max(1, total // (len(KINDS) * 4 * max(1, args.jobs)))
    work = [(kind, chunk[i:i + size]) for kind, chunk in by_kind.items()
            for i in range(0, len(chunk), size)]
    outcomes = run_work(work, run_chunk, jobs=args.jobs, started=started)
    report: dict[str, Any] = {"seed": args.seed, "quick": args.quick,
                              "by_kind": {}, "elapsed_s": 0.0}
    everything = []
    for kind in KINDS:
        results = [o.counts for o in outcomes[kind]]
        everything.extend(results)
        report["by_kind"][kind] = summarize(results)
        print(f"{kind}: {report['by_kind'][kind]}", flush=True)
    report.update(summarize(everything))
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
