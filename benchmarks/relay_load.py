"""Load test of the relay: N concurrent clients streaming real-time audio and barging in.

Three processes on loopback, so none steals the others' event loop:

- the *upstream*: the embedded realtime server (``realtalk.server``), default options;
- the *relay*: ``realtalk.relay.RelayServer`` in front of it, token-authenticated;
- the *load generator* (this process): N clients through the relay, plus a few *probe*
  clients straight to the upstream, doing the same thing, as a baseline.

Each client streams microphone-like audio in real time (``input_audio_buffer.append`` every
``--chunk-ms``, quiet noise that the server's VAD ignores) and, every ``--cycle`` seconds
(random phase), asks for a response, listens to ``--listen`` seconds of it, and barges in:
``response.cancel`` then ``conversation.item.truncate`` with the milliseconds heard, and waits
for the cancelled ``response.done``.

Measured, over a window after all sessions are up and warm:

- ``added_latency_ms``: for every client control event (``response.create``,
  ``response.cancel``, ``conversation.item.truncate``), the time from the client's send to the
  relay's send upstream. The client stamps ``time.perf_counter_ns()`` into the event's
  ``event_id`` and the relay's hook reads it back: ``perf_counter_ns`` is the system-wide
  monotonic clock on Linux, so the difference includes the loopback socket, any wait for the
  relay's busy event loop, and its processing: all the relay adds to a barge-in, plus one
  socket hop a direct connection pays too.
- ``hops``: the relay's own per-hop stamps (each frame from in hand to handed on), per
  direction and kind (audio / control), and ``loop_lag_ms``, how late its loop runs a timer.
- ``cancel_rtt_ms``: ``response.cancel`` sent -> cancelled ``response.done`` received, through
  the relay and for the direct probes.
- ``cpu_pct`` (of one core) and ``rss_mb_per_session`` of the relay process; ``errors``:
  every error event, failed or dropped connection, and timeout, whole run.

Usage::

    python benchmarks/relay_load.py --sessions 500
    python benchmarks/relay_load.py --sweep 100,200,300,400,500   # the largest N meeting it

The last line of output is one JSON object (for ``--sweep``, the largest N that meets the
goal: p99 added latency <= 20 ms and no errors, with ``max_sessions_meeting_goal``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from typing import IO, Any

import anyio
import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

SECRET = "relay-load-benchmark-secret-0123456789"
GOAL_P99_MS = 20.0
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# The upstream and relay processes
# ---------------------------------------------------------------------------------------------


def _run_upstream() -> None:
    from realtalk.server import RealtimeServer, SpeechAudio, SyntheticVoice

    # The stand-in upstream renders each scripted reply as speech (~130 ms of CPU) once per
    # session and voice. Rendering is a pure function of (seed, pitch, text), so here it is
    # shared across sessions: this benchmark measures the relay, not the stand-in's synthesis.
    render = SyntheticVoice._render
    rendered: dict[tuple[int, float, str], SpeechAudio] = {}

    def shared_render(voice: SyntheticVoice, text: str) -> SpeechAudio:
        key = (voice.seed, voice.pitch_hz, text)
        if key not in rendered:
            rendered[key] = render(voice, text)
        return rendered[key]

    SyntheticVoice._render = shared_render  # type: ignore[method-assign,assignment]

    async def main() -> None:
        async with RealtimeServer() as server:
            print(f"PORT {server.port}", flush=True)
            await _wait_for_quit()

    asyncio.run(main())


async def _wait_for_quit() -> None:
    """Serve commands on stdin (one per line) until "quit" or end of input."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "quit":
            return


def _run_relay(upstream_port: int) -> None:
    from realtalk import providers
    from realtalk.relay import (
        RelayedEvent,
        RelayLimits,
        RelayOptions,
        RelayServer,
        TokenAuthenticator,
        TokenSigner,
    )

    stamped: list[int] = []

    def on_event(event: RelayedEvent) -> None:
        event_id = event.payload.get("event_id")
        if (event.direction == "client_to_upstream" and isinstance(event_id, str)
                and event_id.startswith("t")):
            stamped.append(event.forwarded_ns - int(event_id[1:]))

    async def main() -> None:
        provider = providers.endpoint(f"ws://127.0.0.1:{upstream_port}/v1/realtime?model=m")
        relay = RelayServer(provider, TokenAuthenticator(TokenSigner(SECRET)),
                            options=RelayOptions(limits=RelayLimits(max_sessions=100_000)),
                            on_event=on_event)
        async with relay:
            print(f"PORT {relay.port}", flush=True)
            loop = asyncio.get_running_loop()
            while True:
                line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
                if line in ("", "quit"):
                    return
                if line == "reset":
                    relay.metrics.reset_latency()
                    stamped.clear()
                    print("{}", flush=True)
                elif line == "snapshot":
                    from realtalk.relay import LatencySummary

                    usage = resource.getrusage(resource.RUSAGE_SELF)
                    print(json.dumps({
                        "metrics": relay.metrics.snapshot().to_dict(),
                        "stamped": LatencySummary.of(stamped).to_dict(),
                        "cpu_s": usage.ru_utime + usage.ru_stime,
                    }), flush=True)

    asyncio.run(main())


class Child:
    """A benchmark process speaking line commands on stdin/stdout."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env)
        line = self._out.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"{args} did not start: {line!r}")
        self.port = int(line.split()[1])

    @property
    def _out(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout

    def command(self, text: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        reply: dict[str, Any] = json.loads(self._out.readline())
        return reply

    def cpu_s(self) -> float:
        """User + system CPU seconds of the process so far."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS

    def rss_mb(self) -> float:
        """Resident memory now."""
        with open(f"/proc/{self.process.pid}/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE / 2**20

    def stop(self) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------


class Stats:
    """What the clients of one kind (relayed or direct) saw."""

    def __init__(self) -> None:
        self.errors: Counter[str] = Counter()
        self.cancel_rtt_ns: list[int] = []
        self.barge_ins = 0
        self.connected = 0

    def reset(self) -> None:
        self.cancel_rtt_ns.clear()
        self.barge_ins = 0


def _quiet_audio(chunk_ms: int) -> str:
    """Base64 PCM16 noise around -60 dBFS: real bytes, below any VAD threshold."""
    import base64

    rng = np.random.default_rng(7)
    samples = (rng.standard_normal(24 * chunk_ms) * 32).astype("<i2")
    return base64.b64encode(samples.tobytes()).decode("ascii")


_DELTA = '{"type":"response.output_audio.delta"'


def _stamp() -> str:
    return f"t{time.perf_counter_ns()}"


class Client:
    """One simulated user (see the module docstring)."""

    def __init__(self, url: str, headers: dict[str, str], stats: Stats, args: argparse.Namespace,
                 audio: str) -> None:
        self.url, self.headers, self.stats, self.args = url, headers, stats, args
        self.append = json.dumps({"type": "input_audio_buffer.append", "audio": audio},
                                 separators=(",", ":"))
        self.first_audio = anyio.Event()
        self.done = anyio.Event()
        self.item_id: str | None = None
        self.audio_ms = 0.0

    async def run(self, start_delay: float) -> None:
        await anyio.sleep(start_delay)
        try:
            async with connect(self.url, additional_headers=self.headers, max_queue=None,
                               max_size=None, compression=None, open_timeout=60) as ws:
                await self._session(ws)
        except (OSError, WebSocketException, TimeoutError) as exc:
            self.stats.errors[f"connection: {type(exc).__name__}"] += 1

    async def _session(self, ws: ClientConnection) -> None:
        with anyio.fail_after(30):
            created = json.loads(await ws.recv())
        if created.get("type") != "session.created":
            self.stats.errors[f"first event {created.get('type')}"] += 1
            return
        self.stats.connected += 1
        await ws.send(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"turn_detection": {
                "type": "server_vad", "create_response": False, "interrupt_response": False}}}}}))
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._reader, ws, tg.cancel_scope)
            tg.start_soon(self._microphone, ws)
            await self._barge_in_loop(ws)

    async def _reader(self, ws: ClientConnection, scope: anyio.CancelScope) -> None:
        try:
            async for message in ws:
                assert isinstance(message, str)
                if message.startswith(_DELTA):  # most frames: no need to decode them
                    if not self.first_audio.is_set():
                        self.item_id = json.loads(message)["item_id"]
                        self.first_audio.set()
                    self.audio_ms += (len(message) - message.find('"delta":"')) * 3 / 4 / 48
                    continue
                frame = json.loads(message)
                kind = frame["type"]
                if kind == "response.done":
                    if frame["response"]["status"] == "cancelled" and self._cancel_sent:
                        self.stats.cancel_rtt_ns.append(time.perf_counter_ns() - self._cancel_sent)
                    self.done.set()
                elif kind == "error":
                    self.stats.errors[frame["error"].get("code") or "error"] += 1
        except ConnectionClosed:
            self.stats.errors["connection closed"] += 1
        scope.cancel()

    async def _microphone(self, ws: ClientConnection) -> None:
        period = self.args.chunk_ms / 1000
        next_at = time.monotonic()
        while True:
            await ws.send(self.append)
            next_at += period
            await anyio.sleep(max(0.0, next_at - time.monotonic()))

    _cancel_sent = 0

    async def _barge_in_loop(self, ws: ClientConnection) -> None:
        cycle = self.args.cycle
        await anyio.sleep(random.uniform(0, cycle))
        while True:
            began = time.monotonic()
            self.first_audio, self.done, self.audio_ms = anyio.Event(), anyio.Event(), 0.0
            self._cancel_sent = 0
            await ws.send(json.dumps({"type": "response.create", "event_id": _stamp()}))
            try:
                with anyio.fail_after(10):
                    await self.first_audio.wait()
                heard_from = time.monotonic()
                await anyio.sleep(self.args.listen)
                heard_ms = int(min((time.monotonic() - heard_from) * 1000, self.audio_ms))
                self._cancel_sent = time.perf_counter_ns()
                await ws.send(json.dumps({"type": "response.cancel", "event_id": _stamp()}))
                await ws.send(json.dumps({"type": "conversation.item.truncate",
                                          "item_id": self.item_id, "content_index": 0,
                                          "audio_end_ms": heard_ms, "event_id": _stamp()}))
                with anyio.fail_after(10):
                    await self.done.wait()
                self.stats.barge_ins += 1
            except TimeoutError:
                self.stats.errors["timeout"] += 1
            await anyio.sleep(max(0.0, cycle - (time.monotonic() - began)))


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------


def _summary(samples_ns: list[int]) -> dict[str, float]:
    if not samples_ns:
        return {"count": 0, "p50": 0.0, "p99": 0.0}
    values = np.asarray(samples_ns, dtype=np.float64) / 1e6
    p50, p99 = np.percentile(values, [50, 99])
    return {"count": len(samples_ns), "p50": round(float(p50), 3), "p99": round(float(p99), 3)}


async def _load(n: int, args: argparse.Namespace, relay: Child, upstream: Child,
                out: dict[str, Any]) -> None:
    from realtalk.relay import TokenSigner

    signer = TokenSigner(SECRET)
    relayed, direct = Stats(), Stats()
    audio = _quiet_audio(args.chunk_ms)
    relay_url = f"ws://127.0.0.1:{relay.port}/v1/realtime"
    direct_url = f"ws://127.0.0.1:{upstream.port}/v1/realtime?model=m"
    probes = args.probes if args.probes is not None else max(10, n // 10)
    ramp = max(1.0, n / args.ramp_rate)
    rss_before = relay.rss_mb()
    async with anyio.create_task_group() as tg:
        for index in range(n):
            token = signer.mint(f"load-{n}-{index}", ttl=3600)
            client = Client(relay_url, {"Authorization": f"Bearer {token}"}, relayed, args, audio)
            tg.start_soon(client.run, ramp * index / n)
        for index in range(probes):
            client = Client(direct_url, {}, direct, args, audio)
            tg.start_soon(client.run, ramp * index / probes)
        await anyio.sleep(ramp + args.warmup)
        relay.command("reset")
        relayed.reset()
        direct.reset()
        cpu_relay, cpu_upstream = relay.cpu_s(), upstream.cpu_s()
        cpu_self, wall = time.process_time(), time.monotonic()
        await anyio.sleep(args.duration)
        window = time.monotonic() - wall
        snapshot = relay.command("snapshot")
        cpu_pct = (relay.cpu_s() - cpu_relay) / window * 100
        rss_after = relay.rss_mb()
        out.update({
            "upstream_cpu_pct": round((upstream.cpu_s() - cpu_upstream) / window * 100, 1),
            "loadgen_cpu_pct": round((time.process_time() - cpu_self) / window * 100, 1),
        })
        tg.cancel_scope.cancel()
    metrics = snapshot["metrics"]
    stamped = snapshot["stamped"]
    out.update({
        "sessions": n,
        "sessions_connected": relayed.connected,
        "added_latency_ms": {"p50": stamped["p50_ms"], "p99": stamped["p99_ms"],
                             "max": stamped["max_ms"], "count": stamped["count"]},
        "errors": sum(relayed.errors.values()),
        "error_kinds": dict(relayed.errors),
        "cpu_pct": round(cpu_pct, 1),
        "cpu_pct_per_session": round(cpu_pct / n, 4),
        "rss_mb_per_session": round((rss_after - rss_before) / n, 4),
        "hops": {name: {"p50": h["p50_ms"], "p99": h["p99_ms"], "count": h["count"]}
                 for name, h in metrics["hops"].items()},
        "loop_lag_ms": {"p50": metrics["loop_lag"]["p50_ms"],
                        "p99": metrics["loop_lag"]["p99_ms"]},
        "cancel_rtt_ms": {"relay": _summary(relayed.cancel_rtt_ns),
                          "direct": _summary(direct.cancel_rtt_ns)},
        "barge_ins": relayed.barge_ins,
        "direct_errors": dict(direct.errors),
        "relay_refusals": metrics["refusals"],
        "upstream_failures": metrics["upstream_failures"],
        "probes": probes,
        "chunk_ms": args.chunk_ms,
        "window_s": round(window, 1),
    })


def _one(n: int, args: argparse.Namespace) -> dict[str, Any]:
    upstream = Child("--role", "upstream")
    relay = Child("--role", "relay", "--upstream-port", str(upstream.port))
    result: dict[str, Any] = {}
    try:
        anyio.run(_load, n, args, relay, upstream, result)
    finally:
        relay.stop()
        upstream.stop()
    result["meets_goal"] = bool(result["errors"] == 0
                                and result["added_latency_ms"]["p99"] <= GOAL_P99_MS
                                and result["sessions_connected"] == n)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=500, help="concurrent relay clients")
    parser.add_argument("--sweep", default=None, metavar="N,N,...",
                        help="run several session counts; report the largest meeting the goal")
    parser.add_argument("--duration", type=float, default=20.0, help="measured window, s")
    parser.add_argument("--warmup", type=float, default=5.0, help="after the ramp, s")
    parser.add_argument("--ramp-rate", type=float, default=100.0, help="new sessions a second")
    parser.add_argument("--chunk-ms", type=int, default=40, help="audio per append")
    parser.add_argument("--cycle", type=float, default=4.0, help="seconds between barge-ins")
    parser.add_argument("--listen", type=float, default=0.5,
                        help="seconds of the reply heard before barging in")
    parser.add_argument("--probes", type=int, default=None,
                        help="clients straight to the upstream, as a baseline "
                             "(default: a tenth of the sessions, at least 10)")
    parser.add_argument("--role", choices=("upstream", "relay"), help=argparse.SUPPRESS)
    parser.add_argument("--upstream-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "upstream":
        _run_upstream()
        return
    if args.role == "relay":
        _run_relay(args.upstream_port)
        return
    counts = [int(n) for n in args.sweep.split(",")] if args.sweep else [args.sessions]
    results = []
    for n in counts:
        result = _one(n, args)
        results.append(result)
        brief = {k: result[k] for k in ("sessions", "added_latency_ms", "errors", "cpu_pct",
                                        "rss_mb_per_session", "meets_goal")}
        print(json.dumps(brief), flush=True)
    if len(results) == 1:
        print(json.dumps(results[0]), flush=True)
        return
    passing = [r for r in results if r["meets_goal"]]
    best = max(passing, key=lambda r: r["sessions"]) if passing else results[0]
    print(json.dumps({**best, "max_sessions_meeting_goal": best["sessions"] if passing else 0,
                      "sweep": [{k: r[k] for k in ("sessions", "added_latency_ms", "errors",
                                                    "meets_goal")} for r in results]}),
          flush=True)


if __name__ == "__main__":
    main()
