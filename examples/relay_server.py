"""A relay in front of the embedded server, a client barging in through it, and the trace.

What an app's backend does: it runs the relay (which holds the provider's credentials), and
for each user session mints a short-lived token that the browser or phone presents. Here a
realtalk Conversation plays the client, interrupts the reply, and the relay's hook prints
each barge-in event with the time it spent in the relay.

Run: python examples/relay_server.py
(For OpenAI instead: set OPENAI_API_KEY and pass ``realtalk.providers.openai()`` below.)
"""

from __future__ import annotations

import secrets

import anyio

import realtalk
from realtalk.relay import (
    RelayedEvent,
    RelayOptions,
    RelayServer,
    TokenAuthenticator,
    TokenSigner,
    new_session_id,
)
from realtalk.server import RealtimeServer


def trace(event: RelayedEvent) -> None:
    """The relay's hook: every control event it forwards, with its stamps."""
    if event.direction == "client_to_upstream" or event.type == "response.done":
        arrow = "->" if event.direction == "client_to_upstream" else "<-"
        extra = f", {event.audio_sent_ms:.0f} ms of audio sent" if event.audio_sent_ms else ""
        print(f"relay {arrow} {event.type} ({event.added_ms:.3f} ms in the relay{extra})")


async def main() -> None:
    signer = TokenSigner(secrets.token_urlsafe(32))  # shared with the app's backend
    async with RealtimeServer() as upstream:
        provider = realtalk.providers.endpoint(f"{upstream.url}?model=gpt-realtime")
        relay = RelayServer(provider, TokenAuthenticator(signer), options=RelayOptions(),
                            on_event=trace)
        async with relay:
            # The app's backend, per user session:
            token = signer.mint(new_session_id(), ttl=300, subject="user-42")
            # The client (here a Conversation; a browser offers the token as a subprotocol):
            client = realtalk.providers.endpoint(
                relay.url, headers={"Authorization": f"Bearer {token}"})
            async with realtalk.Conversation(client) as conv:
                await conv.send_text("Tell me about lighthouses.")
                async for event in conv.events():
                    if isinstance(event, realtalk.StateChanged) and \
                            event.new is realtalk.State.SPEAKING:
                        await anyio.sleep(1.0)
                        await conv.interrupt()
                    elif isinstance(event, realtalk.Interrupted):
                        print(f"client: interrupted, heard {event.truncate_ms} ms")
                        break
            snapshot = relay.metrics.snapshot()
    hops = snapshot.hops["client_to_upstream/control"]
    print(f"relay: {snapshot.sessions_opened} session, client->upstream control p50 "
          f"{hops.p50_ms:.3f} ms, {snapshot.frames['upstream_to_client']} frames to the client")


if __name__ == "__main__":
    anyio.run(main)
