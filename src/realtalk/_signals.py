"""Running a server from the command line until it is told to stop.

``asyncio.run`` turns SIGINT into ``KeyboardInterrupt`` only when the process inherited the
default SIGINT disposition: a server started in the background by a non-interactive shell (a
CI step, ``cmd &``) inherits SIGINT *ignored*, and Ctrl-C or ``kill -INT`` then did nothing.
A container manager stops a process with SIGTERM, which Python leaves fatal without cleanup.
So the command-line servers install their own handlers for both: either signal cancels the
serving coroutine, which closes its sockets and sessions as on any cancellation.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

__all__ = ("serve_until_stopped",)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve_until_stopped(main: Coroutine[Any, Any, None]) -> bool:
    """Run ``main`` until it returns or SIGINT or SIGTERM arrives (then it is cancelled and
    allowed to clean up). Returns whether a signal stopped it. Exceptions from ``main``
    propagate."""
    return asyncio.run(_until_signalled(main))


async def _until_signalled(main: Coroutine[Any, Any, None]) -> bool:
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        task.cancel()

    installed = []
    for number in _STOP_SIGNALS:
        try:
            loop.add_signal_handler(number, stop)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no Unix signals
            continue
        installed.append(number)
    try:
        await task
    except asyncio.CancelledError:
        if not stopped:
            raise
    finally:
        for number in installed:
            loop.remove_signal_handler(number)
    return stopped
