"""Virtual time: run async code on an event loop whose clock jumps ahead whenever every task
is waiting, so that sleeps, timeouts and clock-paced audio take no wall time.

Under trio this is ``trio.testing.MockClock(autojump_threshold=0)``; under asyncio it is
:class:`VirtualTimeEventLoop`, whose ``time()`` is virtual and which, when no callback is ready
and no I/O is pending, moves its clock to the next timer instead of sleeping. Everything that
reads the loop's clock (``anyio.current_time()``, ``anyio.sleep``, ``fail_after``, and so a
:class:`~realtalk.Conversation`, :class:`~realtalk.audio.MemoryInput`,
:class:`~realtalk.audio.MemoryOutput` and the in-process server) follows it.

Time jumps when every task waits, whatever they wait for: work on another thread or real
network I/O takes no virtual time, so a timeout around it fires at once. Keep a virtual-time
test in one event loop, in memory (:class:`~realtalk.testing.MemoryProvider`,
:class:`~realtalk.testing.InProcessServer`), not against a server on a thread or socket.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import anyio
from typing_extensions import TypeVarTuple, Unpack

from .._args import check_choice
from ..errors import ConfigurationError

__all__ = ("Backend", "VirtualTimeEventLoop", "virtual_backend", "run_virtual")

Backend = Literal["asyncio", "trio"]
"""The event loops realtalk runs on."""

T = TypeVar("T")
PosArgsT = TypeVarTuple("PosArgsT")


class _IdleJumpingSelector(selectors.DefaultSelector):
    """The platform's selector, polled without blocking; when nothing is ready and the loop
    would sleep until a timer, the loop's clock is moved to that timer instead."""

    def __init__(self, advance: Callable[[float], None]) -> None:
        super().__init__()
        self._advance = advance

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if timeout is None:
            # No timer at all: only I/O (a thread's wake-up, a socket) can move things on.
            return super().select(None)
        self._advance(timeout)
        return []


class VirtualTimeEventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on virtual time, starting at ``start`` seconds.

    Its ``time()`` moves only when the loop would otherwise sleep: then it jumps to the next
    timer. Callbacks, ready tasks and I/O that is already ready run as on any loop. Pass the
    class as ``loop_factory`` (``asyncio.run(main(), loop_factory=VirtualTimeEventLoop)``,
    or anyio's ``backend_options``; see :func:`run_virtual`).
    """

    def __init__(self, start: float = 0.0) -> None:
        # Set before the base class starts, which may read the time.
        self._virtual_now = float(start)
        super().__init__(_IdleJumpingSelector(self._advance))

    def time(self) -> float:
        """The virtual time, in seconds."""
        return self._virtual_now

    def _advance(self, seconds: float) -> None:
        self._virtual_now += seconds


def virtual_backend(backend: Backend = "asyncio") -> tuple[str, dict[str, Any]]:
    """The backend name and options that run anyio code in virtual time.

    Each call makes a new clock. The pair is what ``anyio.run`` takes as ``backend`` and
    ``backend_options``, and what anyio's pytest plugin takes as the ``anyio_backend``
    fixture's value::

        @pytest.fixture(params=["asyncio", "trio"])
        def anyio_backend(request):
            return realtalk.testing.virtual_backend(request.param)

    Raises:
        ConfigurationError: ``backend`` is neither ``"asyncio"`` nor ``"trio"``, or trio is
            not installed.
    """
    check_choice("backend", backend, ("asyncio", "trio"))
    if backend == "asyncio":
        return "asyncio", {"loop_factory": VirtualTimeEventLoop}
    try:
        import trio.testing
    except ModuleNotFoundError as exc:
        raise ConfigurationError("virtual time on trio needs trio: pip install 'realtalk[trio]'"
                                 ) from exc
    return "trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}


def run_virtual(func: Callable[[Unpack[PosArgsT]], Awaitable[T]], *args: Unpack[PosArgsT],
                backend: Backend = "asyncio") -> T:
    """``anyio.run(func, *args)`` in virtual time: sleeps, timeouts and clock-paced audio
    take no wall time, and the same program gives the same timeline every run.

    Returns what ``func`` returns; its exception comes out as it is.

    Raises:
        ConfigurationError: an unknown ``backend``, or trio is not installed.
    """
    name, options = virtual_backend(backend)
    return anyio.run(func, *args, backend=name, backend_options=options)
