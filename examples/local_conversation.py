"""A voice conversation with the embedded server, interrupted by the app after one second.

Run: python examples/local_conversation.py
"""

from __future__ import annotations

import anyio

import realtalk


async def main() -> None:
    speaker = realtalk.audio.MemoryOutput()
    async with realtalk.Conversation(realtalk.providers.local(), output=speaker) as conv:
        await conv.send_text("Tell me about lighthouses.")
        async for event in conv.events():
            match event:
                case realtalk.StateChanged(old=old, new=new):
                    print(f"state: {old.value} -> {new.value}")
                    if new is realtalk.State.SPEAKING:
                        await anyio.sleep(1.0)
                        await conv.interrupt()
                    elif new is realtalk.State.LISTENING and old is realtalk.State.CANCELLING:
                        break
                case realtalk.Interrupted(truncate_ms=ms, latency=lat):
                    print(f"interrupted: truncated at {ms} ms, "
                          f"cancel sent {lat.detect_to_cancel_ms:.2f} ms after the decision")
                case realtalk.AssistantTranscript(text=text, interrupted=cut):
                    print(f"ai{' (cut)' if cut else ''}: {text}")
                case _:
                    pass
    print(f"heard {len(speaker.recording()) / 24:.0f} ms of audio")


if __name__ == "__main__":
    anyio.run(main)
