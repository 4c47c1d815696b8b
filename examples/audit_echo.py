"""Record a conversation's transcripts, drop the assistant's echo, and audit it afterwards.

The conversation runs on the embedded server. While the assistant speaks, its own voice comes
back into the microphone (no canceller here), sets off a barge-in and is transcribed as if
the user had said it. The conversation's transcript filters (on by default) drop that
transcript, and its recorder stores every turn in the SQLite store, the dropped one flagged
with the filters' verdicts. Then the store is audited, as ``realtalk transcripts PATH --echo``
would.

Run: python examples/audit_echo.py [PATH]   (default: a temporary transcripts.db)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anyio

import realtalk
from realtalk.server import ScriptedResponder, ScriptedTranscriber, SyntheticVoice
from realtalk.transcripts import SQLiteTranscriptStore, suspected_echoes

REPLY = ("This is a long answer about the weather: the forecast for Saturday is sunny, with "
         "a high of seventy five degrees and a light breeze from the west.")
# What the server's speech recognition makes of the echo: the assistant's first words.
ECHO_HEARD_AS = "this is a long"


async def converse(path: Path) -> None:
    provider = realtalk.providers.local(
        first_audio_latency_ms=50.0,
        responder_factory=lambda: ScriptedResponder([REPLY, "All right."]),
        transcriber_factory=lambda: ScriptedTranscriber([ECHO_HEARD_AS]))
    mic = realtalk.audio.MemoryInput(noise_dbfs=-70.0)
    with SQLiteTranscriptStore(path) as store:
        # transcripts=store: every user and assistant transcript (with the filters' verdicts)
        # and every interruption is recorded as it happens.
        async with realtalk.Conversation(provider, input=mic, transcripts=store) as conv:
            await conv.send_text("What's the weather like on Saturday?")
            with anyio.fail_after(30):
                async for event in conv.events():
                    match event:
                        case realtalk.StateChanged(new=realtalk.State.SPEAKING):
                            # The echo: the assistant's voice, back into the microphone.
                            await anyio.sleep(0.4)
                            voice = SyntheticVoice(seed=1, pitch_hz=180)
                            mic.push(voice.synthesize("This is a long answer").samples)
                        case realtalk.Interrupted(heard_ms=heard):
                            print(f"barge-in after {heard:.0f} ms of the reply")
                        case realtalk.AssistantTranscript(text=text):
                            print(f"assistant: {text!r}")
                        case realtalk.EchoTranscriptDropped(text=text, verdict=verdict):
                            print(f"transcript {text!r}: DROPPED as echo ({verdict.reason})")
                            break
                        case realtalk.UserTranscript(text=text):
                            print(f"transcript {text!r}: kept")
                            break
                        case _:
                            pass


def audit(path: Path) -> None:
    with SQLiteTranscriptStore(path, readonly=True) as store:
        for summary in store.conversations():
            print(f"conversation {summary.conversation_id}: {summary.user_transcripts} user "
                  f"transcript(s), {summary.dropped} dropped as echo, "
                  f"{summary.interruptions} barge-in(s)")
        for suspect in suspected_echoes(store):
            print(f"suspected echo ({suspect.how}, score {suspect.score:.2f}): "
                  f"{suspect.record.text!r}\n  {suspect.reason}")
    print(f"\nsee also: realtalk transcripts {path} --echo")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(tempfile.mkdtemp()) / "transcripts.db"
    anyio.run(converse, path)
    audit(path)


if __name__ == "__main__":
    main()
