"""Function tools in a conversation: the model calls Python functions, each call is answered
exactly once, and the spoken answer quotes the results.

Runs against the embedded server (no key, no network): it calls a declared tool when the
user's message names it. Point the provider at realtalk.providers.openai() for a real model.

    python examples/tools.py
"""

from __future__ import annotations

from typing import Literal

import anyio

import realtalk


@realtalk.tool
async def order_status(order_id: str = "A-1042") -> dict[str, str]:
    """Look up where an order is."""
    await anyio.sleep(0.2)  # a database or an API, in a real app
    return {"order": order_id, "status": "shipped", "arrives": "Thursday"}


@realtalk.tool(timeout_s=5.0, on_interrupt="cancel")
def book_callback(slot: Literal["morning", "afternoon"]) -> str:
    """Book a call back from a person (runs in a worker thread: it is a sync function)."""
    return f"a call back is booked for tomorrow {slot}"


async def main() -> None:
    tools = [order_status, book_callback]
    async with realtalk.Conversation(realtalk.providers.local(), tools=tools) as conv:
        await conv.send_text("Where is my parcel? Please check the order status.")
        answers = 0
        async for event in conv.events():
            match event:
                case realtalk.ToolCallStarted(call=call):
                    print(f"tool call: {call.name}({call.arguments})")
                case realtalk.ToolCallFinished(output=output, duration_s=float(seconds)):
                    print(f"  answered in {seconds * 1000:.0f} ms: {output}")
                case realtalk.ToolCallFinished(output=output):  # refused before running
                    print(f"  answered without running: {output}")
                case realtalk.AssistantTranscript(text=text):
                    print("ai:", text)
                    answers += 1
                    if answers == 1:
                        await conv.send_text("Thanks. Can you book callback for the morning?")
                    else:
                        break


if __name__ == "__main__":
    anyio.run(main)
