"""Running a tool's function for a call, in both shells.

The ledger (:mod:`realtalk.tools.calls`) decides when a call runs, when it is stopped and what
the model is told; this module only calls the function and reports how it ended, as
``(result, error)``: a function that raises is an error string (its type and message), never
an exception out of the conversation.

- :func:`run_tool`: in the conversation's event loop; an async function is awaited there, a
  sync one runs in a worker thread (abandoned if the call is stopped: a thread cannot be
  killed, so its late result is dropped by the ledger).
- :func:`run_tool_now`: at once, for the simulator, where a tool's latency is virtual.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any

import anyio.to_thread

from .calls import RunTool

__all__ = ("ToolRunResult", "describe_error", "run_tool", "run_tool_now")

ToolRunResult = tuple[Any, str | None]
"""``(result, None)`` for a function that returned, ``(None, error)`` for one that raised."""


def describe_error(exc: BaseException) -> str:
    """How a tool's exception is described to the model and the app: ``Type: message``."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


async def run_tool(run: RunTool) -> ToolRunResult:
    """Run ``run``'s function with its arguments in the current event loop."""
    try:
        if run.tool.is_async:
            return await run.tool.function(**run.arguments), None
        call = functools.partial(run.tool.function, **run.arguments)
        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True), None
    except Exception as exc:
        return None, describe_error(exc)


def run_tool_now(run: RunTool) -> ToolRunResult:
    """Run ``run``'s function to completion now, outside any event loop's time: a sync
    function is called, an async one is run on an event loop of its own (in a thread, so that
    this works from inside a running loop too)."""
    try:
        if not run.tool.is_async:
            return run.tool.function(**run.arguments), None
        outcome: list[ToolRunResult] = []

        def in_thread() -> None:
            try:
                outcome.append((asyncio.run(run.tool.function(**run.arguments)), None))
            except Exception as exc:
                outcome.append((None, describe_error(exc)))

        thread = threading.Thread(target=in_thread, name=f"realtalk-tool-{run.tool.name}")
        thread.start()
        thread.join()
        return outcome[0]
    except Exception as exc:
        return None, describe_error(exc)
