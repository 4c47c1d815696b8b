"""A long conversation, measured for growth: do a conversation's states stay bounded over
1,000 barge-ins and tool calls?

Usage::

    python benchmarks/soak.py [--quick] [--seed N] [--barge-ins N]

Prints progress lines, then one JSON object as the last line.

**The conversation** (a :class:`realtalk.sim.Simulation`: the engine a live conversation runs,
against the embedded server, in virtual time). Every 10 s of it, the user asks something
(every other question names a tool, so the model calls it and speaks its output after), then
barges in 2.5-4 s later, while the assistant speaks; it goes on until ``--barge-ins``
interruptions (default 1,000; ``--quick`` 60) have happened. A transcript store records
everything.

**Measured**, after the first tenth of the barge-ins and at the end: the size of every
container the conversation keeps (:func:`state_sizes`: the session core's maps, the playback
tracker's, the context's items, the tool ledger's calls, the playback hold's writes, the echo
defences' logs, the recorder's), and the memory. Each container has a documented bound
(:func:`documented_bounds`: the constants and settings of the modules that keep them); the report
says which went past theirs (``over_bound``) and which grew from the first measure to the
last by more than :data:`GROWTH_SLACK` entries (``growing``). Both should be empty, but for
the containers the app reads and owns (:data:`KEPT_FOR_THE_APP`: each conversation event the
app may want afterwards, one per barge-in). Memory: ``engine_kb``, what the engine's state
holds (every object reachable from it, less the simulated speaker and the app's store), and
``traced_kb``, all the Python memory in use (``tracemalloc``), the simulator's own record of
the whole timeline included.
"""

from __future__ import annotations

import collections
import functools
import gc
import json
import random
import sys
import time
import tracemalloc
import types
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from barge_in import bench_arguments

import realtalk
from realtalk.echo import EchoDefences, EchoGate
from realtalk.engine import ConversationEngine
from realtalk.session.context import DEFAULT_MAX_ITEMS
from realtalk.session.playback import _MAX_ITEMS as TRACKED_PARTS
from realtalk.sim import RoomConfig, Simulation, Utterance, load_clip
from realtalk.testing import MemoryTranscriptStore
from realtalk.tools.calls import KEPT_SETTLED
from realtalk.vad.onset import ROOM_WINDOW_MS

CYCLE_S = 10.0
GROWTH_SLACK = 50
#: Containers that hold one entry per event the app may read back, on purpose (not state).
KEPT_FOR_THE_APP = frozenset({"engine.interruptions"})
#: The frames the simulation captures and uplinks, in seconds.
FRAME_S = 0.02
#: What the playback hold remembers is what is queued and not played yet: one write per
#: audio delta, a reply's worth (a minute of 100 ms deltas).
QUEUED_WRITES = 600
#: Responses with calls not settled yet, at most (a chain of follow-ups, a barge-in's).
IN_FLIGHT = 8


def documented_bounds(engine: ConversationEngine) -> dict[str, int]:
    """The bound each container is documented to keep to, from the settings in use (the
    others: :data:`GROWTH_SLACK`; a deque's own ``maxlen`` counts as one)."""
    near_end = engine.echo_control.near_end
    bounds = {"engine.context.items": DEFAULT_MAX_ITEMS,
              "engine.context.entries": DEFAULT_MAX_ITEMS,
              "engine.context.session_calls": DEFAULT_MAX_ITEMS,
              # the settled responses kept, and a few in flight
              "engine.tool_calls.calls": KEPT_SETTLED + IN_FLIGHT,
              "engine.tool_calls.responses": KEPT_SETTLED + IN_FLIGHT,
              "engine.session.tracker.heard": TRACKED_PARTS,
              "engine.session.tracker.received": TRACKED_PARTS,
              "engine.playback.writes": QUEUED_WRITES,
              # a window of time: the last keep_s of frames
              "engine.echo_control.near_end.notes": round(near_end.keep_s / FRAME_S) + 1}
    gate = engine.detector.gate if engine.detector is not None else None
    if isinstance(gate, EchoGate):
        for where in ("engine.detector.gate", "engine.echo_control.detector.gate"):
            bounds[f"{where}.ratios"] = round(gate.learn_s / FRAME_S) + 1  # learn_s of frames
            bounds[f"{where}.history"] = round(gate.max_delay_ms / 1000 / FRAME_S) + 2
    if engine.detector is not None:
        # the user's level: the last window_ms of their speech, in frames
        window = round(engine.detector.user_level.window_ms / 1000 / FRAME_S) + 1
        # the room's level: the frames of the last ROOM_WINDOW_MS
        room = round(ROOM_WINDOW_MS / 1000 / FRAME_S) + 1
        for where in ("engine.detector", "engine.echo_control.detector"):
            bounds[f"{where}.user_level.frames"] = window
            bounds[f"{where}.room_levels.frames"] = room
    return bounds


@realtalk.tool
def order_status(order_id: str = "A-1") -> dict[str, str]:
    """Where an order is."""
    return {"order": order_id, "status": "shipped"}


def _containers(prefix: str, obj: object, depth: int,
                seen: set[int]) -> Iterator[tuple[str, Any]]:
    """``(name, container)`` for each container among ``obj``'s attributes, and among the
    attributes of its realtalk parts down to ``depth`` levels (each object once)."""
    for name, value in sorted(vars(obj).items()):
        if id(value) in seen or value is None or isinstance(value, str | bytes | np.ndarray):
            continue
        seen.add(id(value))
        label = f"{prefix}.{name.lstrip('_')}"
        if isinstance(value, dict | list | set | tuple | frozenset | collections.deque):
            yield label, value
        elif depth > 0 and hasattr(value, "__dict__") and not isinstance(value, type) \
                and type(value).__module__.startswith("realtalk"):
            yield from _containers(label, value, depth - 1, seen)


def state_sizes(engine: ConversationEngine) -> tuple[dict[str, int], dict[str, int]]:
    """The length of every container the conversation keeps, by where it is, and the bound
    of those that have one of their own (a deque's ``maxlen``)."""
    # The simulated speaker and the app's store are the harness's, not the conversation's.
    skip = {id(engine.output), id(engine.recorder.store) if engine.recorder else 0}
    sizes, bounds = {}, {}
    for name, value in _containers("engine", engine, 3, skip):
        sizes[name] = len(value)
        if isinstance(value, collections.deque) and value.maxlen is not None:
            bounds[name] = value.maxlen
    sizes["engine.context.items"] = len(engine.context)
    return sizes, bounds


def reachable_bytes(engine: ConversationEngine) -> int:
    """The memory the engine's state holds: every object reachable from it (less the
    simulated speaker, the app's store and shared things: modules, classes, functions)."""
    skip = {id(engine.output), id(engine.recorder.store) if engine.recorder else 0}
    seen: set[int] = set()
    total = 0
    todo: list[object] = [engine]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or id(obj) in skip or isinstance(
                obj, type | types.ModuleType | types.FunctionType | types.BuiltinFunctionType
                | types.MethodType | functools.partial):
            continue
        seen.add(id(obj))
        total += obj.nbytes if isinstance(obj, np.ndarray) else sys.getsizeof(obj)
        todo.extend(gc.get_referents(obj))
    return total


def _utterances(cycles: int, rng: random.Random) -> list[Utterance]:
    question, _ = load_clip("weather_tomorrow")
    stop, _ = load_clip("wait_stop")
    said = []
    for n in range(cycles):
        at = 0.5 + n * CYCLE_S
        text = "Please use order status for me." if n % 2 else "Tell me about the weather."
        said.append(Utterance(samples=question, text=text, at=at))
        said.append(Utterance(samples=stop, text="Wait, stop.",
                              at=at + 4.5 + rng.uniform(0.0, 1.5)))
    return said


def soak(barge_ins: int, seed: int = 0, *, progress: bool = True) -> dict[str, Any]:
    """Run until ``barge_ins`` interruptions: the measures (see the module docstring)."""
    rng = random.Random(seed)
    cycles = int(barge_ins * 1.5) + 10  # enough: most cycles interrupt
    store = MemoryTranscriptStore()
    sim = Simulation(
        _utterances(cycles, rng), room=RoomConfig.quiet_office(echo_gain_db=-30.0),
        transcriber_factory="oracle", tools=[order_status], seed=seed, transcripts=store,
        echo=EchoDefences(canceller=None))
    tracemalloc.start()
    started = time.perf_counter()
    first: tuple[dict[str, int], int, int] | None = None
    calls = 0
    while len(sim.engine.interruptions) < barge_ins and sim.clock.now < cycles * CYCLE_S:
        result = sim.run(CYCLE_S * 2)  # (its timeline is the whole conversation's)
        calls = sum(isinstance(e, realtalk.ToolCallStarted) for e in result.timeline)
        done = len(sim.engine.interruptions)
        if first is None and done >= barge_ins // 10:
            first = (state_sizes(sim.engine)[0], tracemalloc.get_traced_memory()[0],
                     reachable_bytes(sim.engine))
        if progress:
            print(f"{done:5d} barge-ins, {calls:4d} tool calls, {sim.clock.now:7.0f} s "
                  f"simulated, {time.perf_counter() - started:6.1f} s elapsed", flush=True)
    sizes, own_bounds = state_sizes(sim.engine)
    memory, engine_bytes = tracemalloc.get_traced_memory()[0], reachable_bytes(sim.engine)
    tracemalloc.stop()
    assert first is not None
    bounds = {**own_bounds, **documented_bounds(sim.engine)}
    kept = {name: n for name, n in sizes.items() if name not in KEPT_FOR_THE_APP}
    over = {name: n for name, n in kept.items() if n > bounds.get(name, GROWTH_SLACK)}
    # A container with a bound may fill up to it; the others must not grow.
    growing = {name: [first[0].get(name, 0), n] for name, n in kept.items()
               if name not in bounds and n - first[0].get(name, 0) > GROWTH_SLACK}
    return {
        "barge_ins": len(sim.engine.interruptions),
        "tool_calls": calls,
        "simulated_s": round(sim.clock.now, 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "engine_kb": {"first": round(first[2] / 1024), "end": round(engine_bytes / 1024)},
        "traced_kb": {"first": round(first[1] / 1024), "end": round(memory / 1024)},
        "largest": dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:10]),
        "kept_for_the_app": {name: sizes.get(name, 0) for name in sorted(KEPT_FOR_THE_APP)},
        "over_bound": over,
        "growing": growing,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--barge-ins", type=int, default=None,
                        help="interruptions to run to (default 1000; 60 with --quick)")
    args = parser.parse_args(argv)
    report = soak(args.barge_ins or (60 if args.quick else 1000), args.seed)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
