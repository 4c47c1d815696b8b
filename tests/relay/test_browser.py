"""The browser client, for real: headless Chromium with a fake microphone, through the relay.

Chromium's fake capture device plays a WAV file as the microphone: silence, then a short
spoken phrase. The page connects to the relay (token as a subprotocol), asks a question, the
embedded server answers, and while the answer plays the "user" speaks: the page must stop
playback, and the relay must see ``response.cancel`` and ``conversation.item.truncate`` from
that session, truncating at no more audio than it had forwarded.

Chromium is driven over the DevTools protocol on a WebSocket (websockets is already a
dependency). The test skips when no Chromium is installed (``apt-get install chromium``).
Set ``REALTALK_SCREENSHOT=docs/img/relay-web.png`` to keep the screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect

from realtalk import providers
from realtalk.audio.wav import read_wav, write_wav
from realtalk.relay import (
    RelayedEvent,
    RelayOptions,
    RelayServer,
    TokenAuthenticator,
    TokenSigner,
)
from realtalk.relay.web import browser_client
from realtalk.server import RealtimeServer, ServerOptions

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "src" / "realtalk" / "sim" / "speech" / "wait_stop_24k.wav"
CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome")
                 if (path := shutil.which(name))), None)
SIGNER = TokenSigner("browser-test-secret-0123456789abcdef")
SILENCE_BEFORE_S = 1.5  # the AI is speaking by then


class DevTools:
    """A minimal Chrome DevTools Protocol client over one browser-level WebSocket."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.console: list[str] = []

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        """Send a command and return its result (events received meanwhile are noted)."""
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self._ws.send(json.dumps(message))
        with anyio.fail_after(20):
            while True:
                reply = json.loads(await self._ws.recv())
                if reply.get("method") == "Runtime.consoleAPICalled":
                    args = reply["params"]["args"]
                    self.console.append(" ".join(str(a.get("value", "")) for a in args))
                elif reply.get("method") == "Runtime.exceptionThrown":
                    self.console.append(json.dumps(reply["params"]["exceptionDetails"]))
                if reply.get("id") == ident:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})

    async def evaluate(self, session: str, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = await self.call("Runtime.evaluate", session, expression=expression,
                                 returnByValue=True)
        return result["result"].get("value")


@contextlib.asynccontextmanager
async def _chromium(profile: Path, microphone: Path) -> AsyncIterator[DevTools]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}%noloop",
        "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}",
        "--remote-debugging-port=0", "--window-size=1000,900", "about:blank",
    ]
    process = await anyio.open_process(command, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL)
    async with process:
        try:
            url = await _devtools_url(process)
            async with connect(url, max_size=None) as ws:
                yield DevTools(ws)
        finally:
            process.terminate()
            with anyio.move_on_after(10, shield=True):
                await process.wait()
            if process.returncode is None:
                process.kill()


async def _devtools_url(process: anyio.abc.Process) -> str:
    """Chromium prints 'DevTools listening on ws://...' on stderr once it is ready."""
    assert process.stderr is not None
    output = ""
    with anyio.fail_after(30):
        while "DevTools listening on " not in output or not output.endswith("\n"):
            output += (await process.stderr.receive()).decode(errors="replace")
    return output.split("DevTools listening on ")[1].split()[0]


def _microphone(path: Path) -> Path:
    """Silence, then "Wait, stop.", then silence: what the fake microphone plays once."""
    speech, rate = read_wav(SPEECH)
    silence = np.zeros(int(SILENCE_BEFORE_S * rate), dtype=np.int16)
    tail = np.zeros(int(2.0 * rate), dtype=np.int16)
    write_wav(path, np.concatenate([silence, speech, tail]), rate)
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed "
                    "(apt-get install chromium)")
async def test_the_browser_example_barges_in_through_the_relay(tmp_path: Path) -> None:
    """Connects, hears the AI, is interrupted by the fake microphone, stops playback; the relay
    forwards the page's cancel and truncate (within the audio it sent)."""
    seen: list[RelayedEvent] = []
    truncated = anyio.Event()

    def on_event(event: RelayedEvent) -> None:
        seen.append(event)
        if event.type == "conversation.item.truncate":
            truncated.set()

    upstream = RealtimeServer(options=ServerOptions(first_audio_latency_ms=200,
                                                    generation_speed=4.0))
    session_id = "browser-1"
    token = SIGNER.mint(session_id)
    async with upstream:
        with browser_client() as web_root:
            relay = RelayServer(providers.endpoint(f"{upstream.url}?model=gpt-realtime"),
                                TokenAuthenticator(SIGNER),
                                options=RelayOptions(web_root=web_root, loop_lag_interval=None),
                                on_event=on_event)
        async with relay, _chromium(tmp_path / "profile",
                                    _microphone(tmp_path / "mic.wav")) as browser:
            target = await browser.call("Target.createTarget", url="about:blank")
            attached = await browser.call("Target.attachToTarget",
                                          targetId=target["targetId"], flatten=True)
            page = attached["sessionId"]
            await browser.call("Runtime.enable", page)
            await browser.call("Page.enable", page)
            url = f"{relay.http_url}/?autostart=1#session_id={session_id}&token={token}"
            await browser.call("Page.navigate", page, url=url)
            with anyio.fail_after(30):
                await truncated.wait()
            state = await browser.evaluate(page, "window.realtalkState")
            shot = await browser.call("Page.captureScreenshot", page, format="png")
    png = base64.b64decode(shot["data"])
    await anyio.Path(tmp_path / "relay-web.png").write_bytes(png)
    if os.environ.get("REALTALK_SCREENSHOT"):
        await anyio.Path(os.environ["REALTALK_SCREENSHOT"]).write_bytes(png)

    assert state["connection"] == "connected", (state, browser.console)
    assert state["sessionId"].startswith("sess_")
    assert state["errors"] == [], state["errors"]
    assert state["bargeIns"] >= 1
    barge = state["lastBargeIn"]
    assert barge["stopMs"] is not None and barge["stopMs"] < 100  # playback stopped at once
    assert barge["droppedMs"] > 0  # audio was queued, and discarded unplayed
    assert 0 < barge["heardMs"] <= barge["receivedMs"]

    mine = [e for e in seen if e.direction == "client_to_upstream" and e.session_id == session_id]
    types = [e.type for e in mine]
    assert types.index("response.cancel") < types.index("conversation.item.truncate")
    cancel = mine[types.index("response.cancel")]
    truncate = mine[types.index("conversation.item.truncate")]
    assert truncate.payload["audio_end_ms"] == barge["heardMs"]
    assert truncate.audio_sent_ms is not None
    assert 0 < truncate.payload["audio_end_ms"] <= truncate.audio_sent_ms
    assert truncate.payload["item_id"] == barge["item"]
    assert cancel.added_ms < 20 and truncate.added_ms < 20
    assert png.startswith(b"\x89PNG")
