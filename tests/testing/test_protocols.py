"""Every public Protocol has a fake in realtalk.testing that satisfies it.

The assignments below are checked by mypy (the tests are type-checked): each fake, assigned to
a variable of its protocol's type, must match it member for member. At run time the test also
finds every Protocol any public module exports, so a new one without a fake fails here.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import pkgutil
from collections.abc import Iterator

import anyio

import realtalk
from realtalk import InterruptionClassifier
from realtalk.audio import AudioInput, AudioOutput
from realtalk.echo import EchoFilter, TranscriptFilter
from realtalk.echo.calibration import DelaySeedable, GainSeedable
from realtalk.providers import Provider
from realtalk.relay import Authenticator, ClientConnection, Policy
from realtalk.server import Responder, Transcriber
from realtalk.testing import (
    InProcessServer,
    MemoryClientConnection,
    MemoryInput,
    MemoryOutput,
    MemoryProvider,
    MemoryTranscriptStore,
    RecordingAuthenticator,
    RecordingEchoFilter,
    RecordingResponder,
    RecordingTranscriber,
    ScriptedClassifier,
    ScriptedGate,
    ScriptedPolicy,
    ScriptedTranscriptFilter,
    ScriptedVAD,
)
from realtalk.transcripts import TranscriptStore
from realtalk.transport import MemoryTransport, Transport
from realtalk.vad import SpeechGate, VoiceActivityDetector

# Protocols whose implementations are already deterministic and in memory: a fake would be
# the real thing again.
NOT_FAKED = {
    "Resampler": "StreamingResampler is pure, deterministic computation",
    "SignalGenerator": "realtalk.sim's generators are seeded, deterministic functions",
}


async def _silent(t: MemoryTransport) -> None:
    await t.receive()


@contextlib.contextmanager
def _fakes() -> Iterator[dict[type, object]]:
    vad: VoiceActivityDetector = ScriptedVAD()
    gate: SpeechGate = ScriptedGate()
    classifier: InterruptionClassifier = ScriptedClassifier()
    echo: EchoFilter = RecordingEchoFilter()
    seedable: DelaySeedable = RecordingEchoFilter()
    gain_seedable: GainSeedable = ScriptedGate()
    transcript_filter: TranscriptFilter = ScriptedTranscriptFilter()
    store: TranscriptStore = MemoryTranscriptStore()
    responder: Responder = RecordingResponder()
    transcriber: Transcriber = RecordingTranscriber()
    client: ClientConnection = MemoryClientConnection()
    policy: Policy = ScriptedPolicy()
    authenticator: Authenticator = RecordingAuthenticator()
    microphone: AudioInput = MemoryInput()
    speaker: AudioOutput = MemoryOutput()
    provider: Provider = InProcessServer()
    scripted: Provider = MemoryProvider(_silent)
    assert isinstance(scripted, MemoryProvider)
    send, receive = anyio.create_memory_object_stream[str](math.inf)
    with send, receive:
        transport: Transport = MemoryTransport(send, receive)
        yield {VoiceActivityDetector: vad, SpeechGate: gate, EchoFilter: echo,
               InterruptionClassifier: classifier,
               DelaySeedable: seedable, GainSeedable: gain_seedable,
               TranscriptFilter: transcript_filter, TranscriptStore: store, Responder: responder,
               Transcriber: transcriber, ClientConnection: client, Policy: policy,
               Authenticator: authenticator, AudioInput: microphone, AudioOutput: speaker,
               Provider: provider, Transport: transport}


def _members(protocol: type) -> set[str]:
    names = {name for name in vars(protocol) if not name.startswith("_")}
    return names | set(getattr(protocol, "__annotations__", {}))


def test_every_fake_has_every_member_of_its_protocol() -> None:
    with _fakes() as fakes:
        pairs = list(fakes.items())
    for protocol, fake in pairs:
        missing = {name for name in _members(protocol) if not hasattr(fake, name)}
        assert not missing, f"{type(fake).__name__} lacks {missing} of {protocol.__name__}"


def test_every_exported_protocol_has_a_fake() -> None:
    exported: dict[str, type] = {}
    for info in pkgutil.walk_packages(realtalk.__path__, "realtalk."):
        if info.name.rsplit(".", 1)[-1].startswith("_") or info.name.endswith("__main__"):
            continue
        if info.name == "realtalk.events":  # the deprecated alias of realtalk.wire
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if isinstance(obj, type) and getattr(obj, "_is_protocol", False):
                exported[name] = obj
    with _fakes() as fakes:
        faked = {protocol.__name__ for protocol in fakes}
    assert "Transport" in exported and "Policy" in exported  # the search finds them
    assert set(exported) - faked == set(NOT_FAKED)
