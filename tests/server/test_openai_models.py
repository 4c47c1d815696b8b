"""Every event the embedded server sends validates against the official ``openai`` models.

The server is driven through every scenario that makes it send something (session update,
input audio and server VAD, responses in audio and text, cancel, truncate, item create /
retrieve / delete, function calls and their outputs, errors, transcription success and
failure, rate limits), on the GA and beta shapes. Each frame must validate against
``openai.types.realtime.RealtimeServerEvent`` (GA) or
``openai.types.beta.realtime.RealtimeServerEvent`` (beta), with no field the model does not
know, and the types seen must be exactly the ones the server declares it can send.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from websockets.asyncio.client import connect

from realtalk.server import (
    RealtimeServer,
    ScriptedResponder,
    ScriptedTranscriber,
    ServerOptions,
    Transcriber,
)
from realtalk.server.session import ServerSession, sent_event_types
from realtalk.server.voice import SyntheticVoice
from realtalk.session_config import WireShape
from realtalk.wire import to_dict

FrameValidator = Callable[[dict[str, Any], WireShape], None]  # the validate_frame fixture
RATE = 24_000
REPLY = "Sure. Here is an answer with a few words in it, long enough to cut short."
class _FailingTranscriber:
    def transcribe(self, samples: npt.NDArray[np.int16], sample_rate: int) -> str:
        raise RuntimeError("recogniser offline")


class _Driver:
    """A sans-I/O session and every frame it sent, as the WebSocket shell encodes them."""

    def __init__(self, shape: WireShape, transcriber: Transcriber, **options: Any) -> None:
        self.shape = shape
        self.now = 0.0
        self.session = ServerSession(
            now=0.0, shape=shape, seed=3, voice=SyntheticVoice(),
            options=ServerOptions(first_audio_latency_ms=0, generation_speed=math.inf,
                                  **options),
            responder=ScriptedResponder([REPLY]),
            transcriber=transcriber,
        )
        self.frames: list[dict[str, Any]] = []
        self._drain()

    def _drain(self) -> list[dict[str, Any]]:
        new = [to_dict(e, self.shape) for e in self.session.events_to_send()]
        self.frames += new
        return new

    def send(self, **frame: Any) -> list[dict[str, Any]]:
        self.session.receive(json.dumps(frame), self.now)
        return self._drain()

    def send_text(self, text: str) -> list[dict[str, Any]]:
        self.session.receive(text, self.now)
        return self._drain()

    def append(self, samples: npt.NDArray[np.int16], chunk_ms: int = 20) -> None:
        step = chunk_ms * RATE // 1000
        for start in range(0, len(samples), step):
            pcm = samples[start : start + step].astype("<i2").tobytes()
            self.send(type="input_audio_buffer.append", audio=base64.b64encode(pcm).decode())
            self.now += chunk_ms / 1000

    def finish(self) -> None:
        self.now += 100.0
        self.session.advance(self.now)
        self._drain()


def _speech() -> npt.NDArray[np.int16]:
    voice = SyntheticVoice(seed=9, pitch_hz=200)
    return np.concatenate((np.zeros(RATE // 2, np.int16),
                           voice.synthesize("what is the weather like").samples,
                           np.zeros(RATE, np.int16)))


def _user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _item_id(frames: Sequence[dict[str, Any]], event_type: str) -> str:
    item_id: str = next(f["item"]["id"] for f in frames if f["type"] == event_type)
    return item_id


def _drive_everything(shape: WireShape) -> list[dict[str, Any]]:
    """Run every scenario that makes the server send something; return all frames."""
    main = _Driver(shape, ScriptedTranscriber(["what is the weather like"]))
    session = {"type": "realtime", "instructions": "Be brief.", "audio": {"input": {
        "transcription": {"model": "gpt-4o-mini-transcribe"}}}} if shape == "ga" else {
        "instructions": "Be brief.", "voice": "alloy",
        "input_audio_transcription": {"model": "whisper-1"}}
    main.send(type="session.update", session=session)
    main.send_text("{not json")
    main.send(type="response.cancel", event_id="nothing_active")
    # A spoken turn under server VAD: speech events, commit, transcript, an audio response.
    main.append(_speech())
    main.finish()
    # A barge-in: speech while a response is generating cancels it (turn_detected).
    main.session.receive(json.dumps({"type": "response.create"}), main.now)
    main.session.events_to_send()  # the response is generating; its frames were seen above
    main.append(_speech())
    main.finish()
    main.send(type="input_audio_buffer.clear")
    # Items: create, retrieve, delete.
    item_id = main.send(type="conversation.item.create", item=_user_text("Hello?"))[0]["item"]["id"]
    main.send(type="conversation.item.retrieve", item_id=item_id)
    main.send(type="conversation.item.delete", item_id=item_id)
    # A response cancelled by the client, then truncated to what was heard.
    response = main.send(type="response.create", response={"metadata": {"turn": "3"}})
    main.send(type="response.cancel")
    main.send(type="conversation.item.truncate", item_id=_item_id(
        response, "response.output_item.added"), content_index=0, audio_end_ms=100)
    # A text-only response.
    modalities = "output_modalities" if shape == "ga" else "modalities"
    main.send(type="response.create", response={modalities: ["text"]})
    main.finish()
    # Function calling: a call, its output, the spoken answer; a call cancelled midway.
    tool = {"type": "function", "name": "get_weather", "description": "The forecast.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}
    main.send(type="session.update", session={**session, "tools": [tool]})
    main.send(type="conversation.item.create", item=_user_text("Get weather for Paris?"))
    call = main.send(type="response.create")
    main.finish()
    call_id = next(f["item"]["call_id"] for f in call if f["type"] == "response.output_item.added")
    main.send(type="conversation.item.create", item={
        "type": "function_call_output", "call_id": call_id, "output": "sunny, 21 C"})
    main.send(type="response.create")
    main.finish()
    main.send(type="conversation.item.create", item=_user_text("get_weather again"))
    main.send(type="response.create")
    main.send(type="response.cancel")
    # A transcriber that fails, on a manual turn.
    failing = _Driver(shape, _FailingTranscriber(), turn_detection=False)
    failing.send(type="session.update", session=session)
    failing.append(_speech())
    failing.send(type="input_audio_buffer.commit")
    return main.frames + failing.frames


@pytest.mark.parametrize("shape", ["ga", "beta"])
def test_every_event_the_server_sends_validates(shape: WireShape,
                                               validate_frame: FrameValidator) -> None:
    """Each frame is a valid openai server event; every type the server can send was sent."""
    frames = _drive_everything(shape)
    for frame in frames:
        validate_frame(frame, shape)
    assert {frame["type"] for frame in frames} == sent_event_types(shape)


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "shape"), [
    ("/v1/realtime?model=gpt-realtime", "ga"),
    ("/openai/v1/realtime?model=my-deployment", "ga"),
    ("/openai/realtime?api-version=2025-04-01-preview&deployment=my-deployment", "beta"),
])
async def test_each_endpoint_speaks_its_shape_validly(path: str, shape: WireShape,
                                                      validate_frame: FrameValidator) -> None:
    """Over the wire, each URL form's frames validate against the openai models of its shape."""
    server = RealtimeServer(
        options=ServerOptions(first_audio_latency_ms=0, generation_speed=math.inf),
        responder_factory=lambda: ScriptedResponder([REPLY]))
    async with server, connect(f"ws://127.0.0.1:{server.port}{path}", max_size=None) as ws:
        frames = [json.loads(await ws.recv())]
        await ws.send(json.dumps({"type": "conversation.item.create", "item": _user_text("hi")}))
        await ws.send(json.dumps({"type": "response.create"}))
        while frames[-1]["type"] != "response.done":
            frames.append(json.loads(await ws.recv()))
    for frame in frames:
        validate_frame(frame, shape)
    names = {frame["type"] for frame in frames}
    assert ("response.output_audio.delta" in names) == (shape == "ga")
    assert ("response.audio.delta" in names) == (shape == "beta")
