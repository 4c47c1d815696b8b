"""Fakes and virtual time for testing apps built on realtalk, without a server, a network or a
sound card, and without waiting on the wall clock.

Providers and transports:

- :class:`MemoryProvider` -- a provider whose server is your coroutine, over an in-memory
  transport: script exactly what the server says and check what it received.
- :class:`InProcessServer` -- the embedded realtime server hosted in your event loop, over an
  in-memory transport: its timing follows the loop's clock, virtual time included.

Virtual time (:mod:`realtalk.testing.virtual_time`):

- :func:`run_virtual` -- ``anyio.run`` on a clock that jumps ahead whenever every task waits;
  :func:`virtual_backend` -- the same for anyio's pytest plugin; :class:`VirtualTimeEventLoop`
  -- the asyncio event loop it uses.

A fake for every interface (each records what it was given):

- audio: :class:`MemoryInput` (a scripted microphone), :class:`MemoryOutput` (a speaker that
  records what it played);
- detection: :class:`ScriptedVAD` (a :class:`~realtalk.vad.VoiceActivityDetector`),
  :class:`ScriptedGate` (a :class:`~realtalk.vad.SpeechGate`), :class:`ScriptedClassifier`
  (an :class:`~realtalk.InterruptionClassifier`);
- echo: :class:`RecordingEchoFilter` (an :class:`~realtalk.echo.EchoFilter`),
  :class:`ScriptedTranscriptFilter` (a :class:`~realtalk.echo.TranscriptFilter`);
- transcripts: :class:`MemoryTranscriptStore` (a
  :class:`~realtalk.transcripts.TranscriptStore` that can be told to fail);
- the embedded server: :class:`RecordingResponder` (a :class:`~realtalk.server.Responder`),
  :class:`RecordingTranscriber` (a :class:`~realtalk.server.Transcriber`);
- the relay: :class:`MemoryClientConnection` (a :class:`~realtalk.relay.ClientConnection`),
  :class:`ScriptedPolicy` (a :class:`~realtalk.relay.Policy`), :class:`RecordingAuthenticator`
  (an :class:`~realtalk.relay.Authenticator`).

:class:`~realtalk.transport.MemoryTransport` (``memory_transport_pair()``) is the
:class:`~realtalk.transport.Transport` fake.
"""

from ..audio.memory import MemoryInput, MemoryOutput
from .detectors import ScriptedClassifier, ScriptedGate, ScriptedVAD
from .echo import RecordingEchoFilter, ScriptedTranscriptFilter
from .provider import InProcessServer, MemoryProvider, ServerScript
from .relay import MemoryClientConnection, RecordingAuthenticator, ScriptedPolicy
from .server import RecordingResponder, RecordingTranscriber
from .transcripts import MemoryTranscriptStore
from .virtual_time import Backend, VirtualTimeEventLoop, run_virtual, virtual_backend

__all__ = (
    # providers
    "MemoryProvider",
    "ServerScript",
    "InProcessServer",
    # virtual time
    "run_virtual",
    "virtual_backend",
    "VirtualTimeEventLoop",
    "Backend",
    # fakes
    "MemoryInput",
    "MemoryOutput",
    "ScriptedVAD",
    "ScriptedGate",
    "ScriptedClassifier",
    "RecordingEchoFilter",
    "ScriptedTranscriptFilter",
    "MemoryTranscriptStore",
    "RecordingResponder",
    "RecordingTranscriber",
    "MemoryClientConnection",
    "ScriptedPolicy",
    "RecordingAuthenticator",
)
