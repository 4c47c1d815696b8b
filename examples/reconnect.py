"""A conversation that outlives its connection: the embedded server drops the connection in
the middle of the first reply, and the conversation reconnects, restores what was said (and
what the user heard) on a new session, and goes on.

Run: python examples/reconnect.py
"""

from __future__ import annotations

import logging

import anyio

import realtalk
from realtalk.server import Drop, Fault, FaultPlan, RealtimeServer, ScriptedResponder

# The server resets the connection just before the 20th audio delta of its first session.
PLAN = FaultPlan([Fault(Drop("reset"), before="response.output_audio.delta", nth=20,
                        session=1)])


async def main() -> None:
    server = RealtimeServer(faults=PLAN, responder_factory=lambda: ScriptedResponder([
        "Lighthouses guide ships with a light that turns, and each has its own rhythm.",
        "They are built on rocks and headlands, where the sea is most dangerous."]))
    with server.running_in_thread():
        provider = realtalk.providers.endpoint(f"{server.url}?model=gpt-realtime")
        # Reconnecting is on by default (reconnect=realtalk.Reconnect() spelled out, to be
        # tuned; reconnect=None turns it off).
        async with realtalk.Conversation(provider, barge_in=None,
                                         reconnect=realtalk.Reconnect(attempts=5)) as conv:
            await conv.send_text("Tell me about lighthouses.")
            async for event in conv.events():
                match event:
                    case realtalk.Reconnecting(attempt=attempt, reason=reason):
                        print(f"reconnecting (attempt {attempt}): {reason}")
                    case realtalk.Reconnected(downtime_s=downtime, items_restored=restored,
                                              lost_response=lost):
                        print(f"reconnected after {downtime:.2f} s, {restored} item(s) "
                              "restored")
                        if lost is not None:
                            print(f"the reply was cut off after {lost.heard_ms:.0f} ms: "
                                  f"{lost.heard_text!r}")
                        await conv.send_text("Go on, please.")
                    case realtalk.AssistantTranscript(text=text):
                        print(f"ai: {text}")
                        break
    print("the new session holds:")
    for role, text in [(item.role, item.text()) for item in server.sessions[1].conversation]:
        print(f"  {role}: {text}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)  # the reconnect's warnings are shown as events
    anyio.run(main)
