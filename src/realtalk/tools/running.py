"""Running a tool's function for a call, in both shells.

The ledger (:mod:`realtalk.tools.calls`) decides when a call runs, when it is stopped and what
the model is told; this module only calls the function and reports how it ended, as
``(result, error)``: a function that raises is an error string (its type and message), never
an exception out of the conversation.

- :func:`run_tool`: in the conversation's event loop; an async function is awaited there, a
  sync one runs in a worker thread (abandoned if the call is stopped: a thread cannot be
  killed, so its late result is dropped by the ledger).
- :func:`run_tool_now`: at once, for the simulator, where a tool's latency is virtual.
- :class:`ToolRunner`: a shell's side of the ledger's :class:`RunTool` / :class:`CancelTool`
  effects: each run a task of the shell's, stopped by its cancel scope.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import anyio.to_thread

from .calls import CancelTool, RunTool

__all__ = ("ToolRunResult", "ToolRunner", "describe_error", "run_tool", "run_tool_now")

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


#: How a :class:`ToolRunner` starts a task: ``start(function, run)``, as a task group's
#: ``start_soon`` does.
StartTask = Callable[[Callable[[RunTool], Coroutine[Any, Any, None]], RunTool], object]

#: How a :class:`ToolRunner` reports a run that ended by itself: ``(call_id, result, error)``,
#: for the shell to pass on to its ledger (:meth:`~realtalk.tools.calls.ToolCalls.finished`).
ReportRun = Callable[[str, Any, "str | None"], Awaitable[None]]


class ToolRunner:
    """Performs a ledger's :class:`RunTool` and :class:`CancelTool` effects in an event loop.

    Each :class:`RunTool` becomes a task (started with ``start``) that runs the function
    (:func:`run_tool`) inside a cancel scope of its own; :class:`CancelTool` cancels that scope.
    A run that ends by itself is reported with ``report``; a stopped one is not, since the
    ledger answered the call when it asked for the stop.

    Args:
        start: starts a task (a task group's ``start_soon``, or a shell's own spawner).
        report: called in the run's task with ``(call_id, result, error)``.
    """

    def __init__(self, start: StartTask, report: ReportRun) -> None:
        self._start = start
        self._report = report
        self._scopes: dict[str, anyio.CancelScope] = {}

    @property
    def running(self) -> list[str]:
        """The call ids whose functions are running."""
        return list(self._scopes)

    def perform(self, effect: RunTool | CancelTool) -> None:
        """Start a run, or stop one (a call not running is left alone)."""
        if isinstance(effect, RunTool):
            self._start(self._run, effect)
        else:
            scope = self._scopes.pop(effect.call_id, None)
            if scope is not None:
                scope.cancel()

    def cancel_all(self) -> None:
        """Stop every run, unreported (the conversation they belong to is gone)."""
        scopes, self._scopes = self._scopes, {}
        for scope in scopes.values():
            scope.cancel()

    async def _run(self, run: RunTool) -> None:
        call_id = run.call.call_id
        with anyio.CancelScope() as scope:
            self._scopes[call_id] = scope
            result, error = await run_tool(run)
        if scope.cancel_called:
            return
        self._scopes.pop(call_id, None)
        await self._report(call_id, result, error)


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
