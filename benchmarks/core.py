"""Benchmark of the core: session event cost, and detection -> response.cancel on the wire.

1. ``session_event_us``: mean cost of one server event through the sans-I/O session core
   (a realistic mix: audio deltas, transcript deltas, response lifecycle, barge-ins).
2. ``cancel_on_wire_ms``: over N interruptions against the embedded server on loopback, the
   wall-clock time from the barge-in decision (the core is told the user is talking) to the
   server receiving ``response.cancel`` (stamped by the server's receive hook with the same
   ``time.perf_counter`` clock; the server runs on its own thread and loop).

Prints progress lines, then one JSON object as the last line: ``cancel_on_wire_ms`` with the
conversation under asyncio and ``cancel_on_wire_ms_trio`` under trio (the same anyio client).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import anyio

import realtalk
from realtalk import wire as ev
from realtalk.server import ScriptedResponder
from realtalk.session import ClientSession

CHUNK = b"\x10\x00" * 2400  # 100 ms of PCM16 at 24 kHz


def _session_event_us(rounds: int) -> float:
    frames: list[ev.ServerEvent] = []
    for r in range(rounds):
        rid, item = f"r{r}", f"i{r}"
        frames.append(ev.ResponseCreated(response=ev.ResponseInfo(id=rid)))
        for _ in range(20):
            frames.append(ev.ResponseOutputAudioDelta(response_id=rid, item_id=item, delta=CHUNK))
            frames.append(ev.ResponseOutputAudioTranscriptDelta(response_id=rid, item_id=item,
                                                                delta="word "))
        frames.append(ev.ResponseDone(response=ev.ResponseInfo(id=rid, status="cancelled")))
    session = ClientSession()
    session.open(0.0)
    session.outputs()
    start = time.perf_counter()
    now = 0.0
    for i, frame in enumerate(frames):
        now += 0.001
        session.receive(frame, now)
        if i % 42 == 20:  # mid-response: the user barges in
            session.playback_progress(session.tracker.played + 1200, now)
            session.user_speech(now)
        session.outputs()
    elapsed = time.perf_counter() - start
    return elapsed / len(frames) * 1e6


def _parse_delta_us(n: int) -> float:
    frame = ev.encode(ev.ResponseOutputAudioDelta(response_id="r", item_id="i", delta=CHUNK))
    start = time.perf_counter()
    for _ in range(n):
        ev.parse_server_event(frame)
    return (time.perf_counter() - start) / n * 1e6


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _cancel_on_wire(n: int) -> list[float]:
    cancel_seen: list[float] = []

    def on_client_event(at: float, event_type: str) -> None:
        if event_type == "response.cancel":
            cancel_seen.append(at)

    provider = realtalk.providers.local(
        first_audio_latency_ms=5.0, generation_speed=50.0, on_client_event=on_client_event,
        responder_factory=lambda: ScriptedResponder(
            ["A reply long enough to be interrupted while it is still being generated."]),
    )
    latencies: list[float] = []
    config = realtalk.SessionConfig(turn_detection=False)
    async with realtalk.Conversation(provider, config=config, barge_in=None) as conv:
        for i in range(n):
            await conv.send_text(f"question {i}")
            async for event in conv.events():
                if isinstance(event, realtalk.StateChanged) and \
                        event.new is realtalk.State.SPEAKING:
                    break
            before = len(cancel_seen)
            decided = time.perf_counter()
            await conv.interrupt()
            with anyio.fail_after(5):
                # The hook runs on the server's thread: poll rather than share an Event.
                while len(cancel_seen) == before:  # noqa: ASYNC110
                    await anyio.sleep(0.0005)
            latencies.append((cancel_seen[-1] - decided) * 1000.0)
            async for event in conv.events():
                if isinstance(event, realtalk.Interrupted):
                    break
            if (i + 1) % 50 == 0:
                print(f"  {i + 1}/{n} interruptions", flush=True)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interruptions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    print(f"session core: {args.rounds} responses of 42 events ...", flush=True)
    per_event = _session_event_us(args.rounds)
    print(f"  {per_event:.2f} us per server event", flush=True)
    parse_us = _parse_delta_us(5000)
    print(f"  {parse_us:.1f} us to parse a 100 ms audio delta frame (JSON + base64)", flush=True)
    result: dict[str, object] = {
        "session_event_us": round(per_event, 3),
        "parse_audio_delta_us": round(parse_us, 2),
    }
    for backend, key in (("asyncio", "cancel_on_wire_ms"), ("trio", "cancel_on_wire_ms_trio")):
        print(f"cancel on the wire ({backend}): {args.interruptions} interruptions on loopback",
              flush=True)
        lat = anyio.run(_cancel_on_wire, args.interruptions, backend=backend)
        result[key] = {
            "p50": round(statistics.median(lat), 3),
            "p95": round(_percentile(lat, 95), 3),
            "p99": round(_percentile(lat, 99), 3),
            "max": round(max(lat), 3),
            "n": len(lat),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
