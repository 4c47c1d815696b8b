"""Run two peer SDKs' realtime clients against realtalk's embedded server, and report.

Usage::

    python -m venv /tmp/interop && /tmp/interop/bin/pip install \\
        openai-agents livekit-agents livekit-plugins-openai /path/to/realtalk
    /tmp/interop/bin/python scripts/interop_check.py [--frames frames.jsonl]

The SDKs are not realtalk dependencies: install them in a separate environment (they pin their
own websockets and openai). The script starts :class:`realtalk.server.RealtimeServer` on a free
loopback port and points every client at it with a dummy key, so nothing leaves the machine.

Checks (each skipped, with the reason, when its package cannot be imported):

- ``openai_agents``: the OpenAI Agents SDK's ``RealtimeRunner`` runs a ``RealtimeAgent``
  session (``RealtimeModelConfig.url``), sends one user text message and waits for the turn to
  end (``agent_end``); it must have received audio and the reply's transcript, with no
  ``error`` event (the SDK validates every server frame against the ``openai`` models and
  reports a frame that fails as one), and the session must close cleanly.
- ``livekit``: LiveKit Agents' ``livekit.plugins.openai.realtime.RealtimeModel`` (``base_url``),
  driven without a room: ``model.session()`` then ``generate_reply(instructions=...)``, whose
  future resolves only when a ``response.created`` echoes the request's
  ``metadata.client_event_id`` (it fails after 10 s otherwise). The reply's message streams
  must yield audio and text, with no ``error`` event.
- ``openai_agents_tools``: the same agent with a ``get_weather`` function tool; the user's
  message names it, the server calls it, the SDK runs it and sends its output back, and the
  spoken reply that follows must quote that output.
- ``livekit_tools``: the LiveKit session declares the tool (``update_tools``), adds the user's
  message (``update_chat_ctx``) and calls ``generate_reply``; the generation's function stream
  must yield the call, whose output (added with ``update_chat_ctx``) the next generation's
  reply must quote.

The last line printed is one JSON object: for each check ``ok``, what was received (server event
types with counts, the SDK's own events, the reply text, the audio in ms), how long the turn
took, the errors, and the server's view of the session (client events, errors it sent). The exit
status is 1 if a check that ran failed. ``--frames`` writes every server frame each SDK received,
one JSON object a line (audio deltas shortened), as evidence for a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import importlib.metadata
import json
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from realtalk.server import RealtimeServer

MODEL = "gpt-realtime"
DUMMY_KEY = "sk-interop-dummy"  # the server takes any key: it is started without api_key
USER_TEXT = "Hello! Can you hear me?"
REPLY_INSTRUCTIONS = "Greet the user briefly."
TOOL_REQUEST = "What does get weather say for Paris?"  # names the tool get_weather
TURN_TIMEOUT_S = 30.0
OUTPUT_RATE = 24_000  # pcm16 mono, both SDKs' default output format

Report = dict[str, Any]
CHECKS = ("openai_agents", "livekit", "openai_agents_tools", "livekit_tools")


def _forecast(city: str) -> str:
    """The tool both SDKs declare (as get_weather) and run."""
    return f"Sunny in {city}, 21 C"


def _quoted_forecast(arguments: dict[str, Any]) -> str:
    """The reply the server speaks once the tool, called with ``arguments``, answered."""
    return f"The get_weather tool answered: {_forecast(**arguments)}."


def _load(module: str) -> tuple[Any, str | None]:
    """The module, or ``None`` and why it cannot be imported (the check is then skipped)."""
    try:
        return importlib.import_module(module), None
    except ImportError as exc:
        return None, f"cannot import {module}: {exc}"


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _short(frame: dict[str, Any]) -> dict[str, Any]:
    """A server frame for the evidence file: base64 audio cut to its first characters."""
    if frame.get("type") == "response.output_audio.delta":
        delta = str(frame.get("delta", ""))
        return {**frame, "delta": f"{delta[:16]}... ({len(delta)} base64 chars)"}
    return frame


class _ClientEvents:
    """Client event types the server received (its ``on_client_event`` hook).

    The hook runs on the server's thread, hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def __call__(self, _received_at: float, event_type: str) -> None:
        with self._lock:
            self._counts[event_type] += 1

    def take(self) -> dict[str, int]:
        """The counts since the last call (the checks run one after the other)."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return dict(counts)


class _Frames:
    """Every server frame an SDK received, in order, for its report and the evidence file."""

    def __init__(self, check: str) -> None:
        self.check = check
        self.frames: list[dict[str, Any]] = []

    def add(self, frame: Any) -> None:
        if isinstance(frame, dict):
            self.frames.append(frame)

    def types(self) -> dict[str, int]:
        return dict(Counter(str(frame.get("type")) for frame in self.frames))

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame.get("type") in types]

    def write(self, out: Any) -> None:
        for frame in self.frames:
            out.write(json.dumps({"check": self.check, "frame": _short(frame)}) + "\n")


def _capped(lines: list[str], keep: int = 5) -> list[str]:
    """The first lines of a long list (a broken frame type repeats once per delta)."""
    if len(lines) <= keep:
        return lines
    return [*lines[:keep], f"... and {len(lines) - keep} more"]


def _wire_reply(frames: _Frames) -> tuple[str, int]:
    """The reply as the server sent it: its audio transcript and its audio in ms."""
    transcript = "".join(str(frame.get("transcript", ""))
                         for frame in frames.of_type("response.output_audio_transcript.done"))
    audio = sum(len(base64.b64decode(str(frame.get("delta", ""))))
                for frame in frames.of_type("response.output_audio.delta"))
    return transcript, round(audio / 2 / OUTPUT_RATE * 1000)


class _LogRecords(logging.Handler):
    """Warnings and errors the SDKs logged during a check."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def summary(self) -> list[str]:
        return [f"{r.levelname} {r.name}: {r.getMessage()}"[:2000] for r in self.records]


def _server_view(server: RealtimeServer, first_session: int, client: dict[str, int]) -> Report:
    """What the server saw of the sessions a check opened."""
    sessions = server.sessions[first_session:]
    errors: Counter[str] = Counter()
    for session in sessions:
        errors.update(session.stats.errors_sent)
    return {
        "sessions": len(sessions),
        "closed": all(session.closed for session in sessions),
        "client_events": client,
        "errors_sent": dict(errors),
    }


async def _wait_closed(server: RealtimeServer, first_session: int) -> None:
    """Give the server a moment to see the client's close (it runs on its own thread)."""
    for _ in range(200):
        if all(session.closed for session in server.sessions[first_session:]):
            return
        await asyncio.sleep(0.01)


# ---------------------------------------------------------------------------------------------
# Check 1: OpenAI Agents SDK, agents.realtime
# ---------------------------------------------------------------------------------------------


async def check_openai_agents(url: str, frames: _Frames, *, call_tool: bool = False) -> Report:
    """One user message and the turn it starts; with ``call_tool``, a message naming the
    agent's tool, then the call, its output and the reply that quotes it (two turns)."""
    realtime, problem = _load("agents.realtime")
    if realtime is None:
        return {"ok": False, "skipped": problem}
    agents = importlib.import_module("agents")
    # The SDK's trace exporter posts to api.openai.com: off, everything stays on loopback.
    agents.set_tracing_disabled(True)

    calls: list[dict[str, Any]] = []

    def get_weather(city: str) -> str:
        """Today's weather in a city."""
        calls.append({"city": city})
        return _forecast(city)

    tools = [agents.function_tool(get_weather)] if call_tool else []
    agent = realtime.RealtimeAgent(name="Assistant", instructions="You are a helpful assistant.",
                                   tools=tools)
    runner = realtime.RealtimeRunner(agent)
    # The SDK names its own default model in every session.update; a session's model cannot
    # change, so the settings must name the URL's model or each update is refused whole.
    session = await runner.run(model_config={
        "url": url, "api_key": DUMMY_KEY, "initial_model_settings": {"model_name": MODEL}})

    sdk_events: Counter[str] = Counter()
    errors: list[str] = []
    audio_bytes = 0
    history: list[Any] = []
    turn_s: float | None = None
    turn_ended = False
    turns = 2 if call_tool else 1  # the call is a turn of its own
    connecting = time.perf_counter()
    async with session:
        started = time.perf_counter()
        await session.send_message(TOOL_REQUEST if call_tool else USER_TEXT)
        async for event in session:
            sdk_events[event.type] += 1
            if event.type == "raw_model_event" and event.data.type == "raw_server_event":
                frames.add(event.data.data)
            elif event.type == "audio":
                audio_bytes += len(event.audio.data)
            elif event.type == "history_updated":
                history = list(event.history)
            elif event.type == "history_added":
                history.append(event.item)
            elif event.type == "error":
                errors.append(repr(event.error)[:2000])
            elif event.type == "agent_end" and sdk_events["agent_end"] == turns:
                turn_s = time.perf_counter() - started
                turn_ended = True
                break
        closing = time.perf_counter()
    closed_s = time.perf_counter() - closing

    reply = _assistant_transcript(history)
    audio_ms = round(audio_bytes / 2 / OUTPUT_RATE * 1000)
    ok = turn_ended and not errors and audio_ms > 0 and bool(reply)
    tool_report: Report = {}
    if call_tool:
        ok = ok and len(calls) == 1 and sdk_events["tool_end"] == 1 \
            and reply == _quoted_forecast(calls[0])
        tool_report = {"tool_calls": calls}
    return {
        "ok": ok,
        **tool_report,
        "sdk_events": dict(sdk_events),
        "server_events": frames.types(),
        "reply_text": reply,
        "audio_ms": audio_ms,
        "connect_s": round(started - connecting, 3),
        "turn_s": None if turn_s is None else round(turn_s, 3),
        "close_s": round(closed_s, 3),
        "errors": errors,
    }


def _assistant_transcript(history: list[Any]) -> str:
    """The transcript of the last assistant message in the SDK's history."""
    for item in reversed(history):
        if getattr(item, "type", None) == "message" and getattr(item, "role", None) == "assistant":
            parts = [getattr(part, "transcript", None) or getattr(part, "text", None) or ""
                     for part in item.content]
            return "".join(parts)
    return ""


# ---------------------------------------------------------------------------------------------
# Check 2: LiveKit Agents' OpenAI realtime plugin, without a room
# ---------------------------------------------------------------------------------------------


class _Generation:
    """What one LiveKit generation yielded: its messages' text, audio and modalities, and its
    function calls."""

    def __init__(self) -> None:
        self.text = ""
        self.audio_ms = 0.0
        self.modalities: list[str] = []
        self.function_calls: list[Any] = []


async def _read_generation(generation: Any) -> _Generation:
    """Read a LiveKit generation's message and function streams to their ends."""
    result = _Generation()
    texts: list[str] = []

    async def read_message(message: Any) -> None:
        async def read_text() -> None:
            async for delta in message.text_stream:
                texts.append(str(delta))

        async def read_audio() -> None:
            async for frame in message.audio_stream:
                result.audio_ms += frame.samples_per_channel / frame.sample_rate * 1000

        await asyncio.gather(read_text(), read_audio())
        result.modalities.extend(await message.modalities)

    async def read_messages() -> None:
        readers = [asyncio.ensure_future(read_message(message))
                   async for message in generation.message_stream]
        await asyncio.gather(*readers)

    async def read_calls() -> None:
        result.function_calls += [call async for call in generation.function_stream]

    await asyncio.gather(read_messages(), read_calls())
    result.text = "".join(texts)
    return result


@contextlib.asynccontextmanager
async def _livekit_session(plugin: Any, base_url: str, frames: _Frames,
                           errors: list[str]) -> AsyncIterator[Any]:
    """A LiveKit realtime session on the server, once its session.update was answered; every
    server frame goes to ``frames`` and every error event to ``errors``."""
    model = plugin.RealtimeModel(model=MODEL, base_url=base_url, api_key=DUMMY_KEY)
    configured = asyncio.Event()

    def on_server_event(frame: Any) -> None:
        frames.add(frame)
        if isinstance(frame, dict) and frame.get("type") == "session.updated":
            configured.set()

    session = model.session()  # connects in the background and sends its session.update
    session.on("openai_server_event_received", on_server_event)
    session.on("error", lambda error: errors.append(repr(error.error)[:2000]))
    try:
        await asyncio.wait_for(configured.wait(), TURN_TIMEOUT_S)
        yield session
    finally:
        await session.aclose()
        await model.aclose()


async def check_livekit(base_url: str, frames: _Frames) -> Report:
    plugin, problem = _load("livekit.plugins.openai.realtime")
    if plugin is None:
        return {"ok": False, "skipped": problem}

    errors: list[str] = []
    reply = _Generation()
    connect_s: float | None = None
    created_s: float | None = None
    done_s: float | None = None
    connecting = time.perf_counter()
    try:
        async with _livekit_session(plugin, base_url, frames, errors) as session:
            # Time generate_reply alone, on a configured session, not the connection before it.
            started = time.perf_counter()
            connect_s = started - connecting
            generation = await asyncio.wait_for(
                session.generate_reply(instructions=REPLY_INSTRUCTIONS), TURN_TIMEOUT_S
            )
            created_s = time.perf_counter() - started
            reply = await asyncio.wait_for(_read_generation(generation), TURN_TIMEOUT_S)
            done_s = time.perf_counter() - started
    except Exception as exc:  # the report names it (the session was closed on the way out)
        errors.append(f"{type(exc).__name__}: {exc}")

    created = frames.of_type("response.created")
    echoed = [frame.get("response", {}).get("metadata") for frame in created]
    return {
        "ok": done_s is not None and not errors and reply.audio_ms > 0 and bool(reply.text),
        "server_events": frames.types(),
        "reply_text": reply.text,
        "audio_ms": round(reply.audio_ms),
        "modalities": reply.modalities,
        "response_created_metadata": echoed,
        "connect_s": None if connect_s is None else round(connect_s, 3),
        "generate_reply_s": None if created_s is None else round(created_s, 3),
        "generation_done_s": None if done_s is None else round(done_s, 3),
        "errors": errors,
    }


async def check_livekit_tools(base_url: str, frames: _Frames) -> Report:
    """A declared tool, a user message naming it, the generation's function call, its output
    added to the chat context, and the next generation's reply quoting it."""
    plugin, problem = _load("livekit.plugins.openai.realtime")
    if plugin is None:
        return {"ok": False, "skipped": problem}
    llm = importlib.import_module("livekit.agents.llm")

    async def get_weather(city: str) -> str:
        """Today's weather in a city."""
        return _forecast(city)

    errors: list[str] = []
    calls: list[dict[str, Any]] = []
    reply = _Generation()
    done_s: float | None = None
    try:
        async with _livekit_session(plugin, base_url, frames, errors) as session:
            started = time.perf_counter()
            await session.update_tools([llm.function_tool(get_weather)])
            chat_ctx = session.chat_ctx.copy()
            chat_ctx.add_message(role="user", content=TOOL_REQUEST)
            await session.update_chat_ctx(chat_ctx)
            generation = await asyncio.wait_for(session.generate_reply(), TURN_TIMEOUT_S)
            called = await asyncio.wait_for(_read_generation(generation), TURN_TIMEOUT_S)
            chat_ctx = session.chat_ctx.copy()
            for call in called.function_calls:
                arguments = json.loads(call.arguments)
                calls.append({"name": call.name, "arguments": arguments})
                chat_ctx.items.append(llm.FunctionCallOutput(
                    call_id=call.call_id, name=call.name, output=_forecast(**arguments),
                    is_error=False))
            await session.update_chat_ctx(chat_ctx)
            generation = await asyncio.wait_for(session.generate_reply(), TURN_TIMEOUT_S)
            reply = await asyncio.wait_for(_read_generation(generation), TURN_TIMEOUT_S)
            done_s = time.perf_counter() - started
    except Exception as exc:  # the report names it (the session was closed on the way out)
        errors.append(f"{type(exc).__name__}: {exc}")

    expected = _quoted_forecast(calls[0]["arguments"]) if len(calls) == 1 else None
    return {
        "ok": done_s is not None and not errors and len(calls) == 1
        and calls[0]["name"] == "get_weather" and reply.text == expected
        and reply.audio_ms > 0,
        "tool_calls": calls,
        "server_events": frames.types(),
        "reply_text": reply.text,
        "audio_ms": round(reply.audio_ms),
        "turn_s": None if done_s is None else round(done_s, 3),
        "errors": errors,
    }


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------


async def _run_check(
    name: str,
    check: Callable[[_Frames], Awaitable[Report]],
    server: RealtimeServer,
    client_events: _ClientEvents,
    all_frames: list[_Frames],
) -> Report:
    """Run one check and add what every check verifies the same way.

    Beyond the check's own verdict: what the SDK handed its caller must be what the server
    sent (transcript and audio length), the server must have sent no ``error`` and seen the
    connection close, and nothing (SDK or server) may have logged an error.
    """
    frames = _Frames(name)
    all_frames.append(frames)
    first_session = len(server.sessions)
    logs = _LogRecords()
    logging.getLogger().addHandler(logs)
    try:
        client_events.take()
        try:
            report = await asyncio.wait_for(check(frames), 2 * TURN_TIMEOUT_S)
        except Exception as exc:  # one SDK's failure must not hide the other's result
            report = {"ok": False, "errors": [f"{type(exc).__name__}: {exc}"]}
        await _wait_closed(server, first_session)
        client = client_events.take()
    finally:
        logging.getLogger().removeHandler(logs)
    if "skipped" in report:
        print(f"{name}: skipped ({report['skipped']})", file=sys.stderr)
        return report

    wire_text, wire_audio_ms = _wire_reply(frames)
    report.setdefault("server_events", frames.types())
    report["wire"] = {"transcript_matches": report.get("reply_text") == wire_text,
                      "audio_ms": wire_audio_ms}
    report["log"] = _capped(logs.summary())
    report["server"] = view = _server_view(server, first_session, client)
    report["ok"] = (bool(report["ok"]) and report["wire"]["transcript_matches"]
                    and report.get("audio_ms") == wire_audio_ms
                    and view["closed"] and not view["errors_sent"]
                    and not any(r.levelno >= logging.ERROR for r in logs.records))
    report["errors"] = _capped(report.get("errors", []))
    print(f"{name}: {'ok' if report['ok'] else 'FAILED'}", file=sys.stderr)
    return report


async def run_checks(all_frames: list[_Frames]) -> Report:
    """Start the server, run both checks against it, and collect their frames in all_frames."""
    client_events = _ClientEvents()
    server = RealtimeServer(on_client_event=client_events)
    with server.running_in_thread():
        url = f"{server.url}?model={MODEL}"
        result: Report = {
            "server": {"url": url},
            "versions": {name: _version(name) for name in (
                "realtalk", "openai", "openai-agents", "livekit-agents",
                "livekit-plugins-openai", "websockets", "aiohttp")},
        }
        result["openai_agents"] = await _run_check(
            "openai_agents", lambda frames: check_openai_agents(url, frames),
            server, client_events, all_frames)
        result["livekit"] = await _run_check(
            "livekit", lambda frames: check_livekit(server.http_base_url, frames),
            server, client_events, all_frames)
        result["openai_agents_tools"] = await _run_check(
            "openai_agents_tools",
            lambda frames: check_openai_agents(url, frames, call_tool=True),
            server, client_events, all_frames)
        result["livekit_tools"] = await _run_check(
            "livekit_tools", lambda frames: check_livekit_tools(server.http_base_url, frames),
            server, client_events, all_frames)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", metavar="PATH",
                        help="write every server frame each SDK received (JSON lines)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    all_frames: list[_Frames] = []
    result = asyncio.run(run_checks(all_frames))
    if args.frames is not None:
        with Path(args.frames).open("w", encoding="utf-8") as out:
            for frames in all_frames:
                frames.write(out)
    print(json.dumps(result))
    checks = [result[name] for name in CHECKS]
    return 1 if any("skipped" not in check and not check["ok"] for check in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
