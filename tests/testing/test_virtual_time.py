"""Virtual time on both event loops: sleeps and timeouts end at their exact virtual deadlines,
without waiting for them; what is ready runs first; real I/O still wakes the loop."""

from __future__ import annotations

import asyncio
import sys
import time

import anyio
import anyio.lowlevel
import pytest

import realtalk
from realtalk.testing import VirtualTimeEventLoop, run_virtual, virtual_backend

BACKENDS = ["asyncio", "trio"]


async def _an_hour_of_timers() -> list[tuple[str, float]]:
    """Sleeps, a timeout and a deadline over an hour of virtual time; when each ended."""
    start = anyio.current_time()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await anyio.sleep(seconds)
        woke.append((name, anyio.current_time() - start))

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "hour", 3600.0)
        tg.start_soon(sleeper, "tenth", 0.1)
        tg.start_soon(sleeper, "second", 1.0)
        with anyio.move_on_after(5.0):
            await anyio.sleep_forever()
        woke.append(("timeout", anyio.current_time() - start))
    return woke


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_hour_of_sleeping_ends_at_exact_virtual_times_at_once(backend: str) -> None:
    wall = time.monotonic()
    woke = run_virtual(_an_hour_of_timers, backend=backend)  # type: ignore[arg-type]
    assert time.monotonic() - wall < 3600.0
    assert woke == [("tenth", 0.1), ("second", 1.0), ("timeout", 5.0), ("hour", 3600.0)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_ready_work_runs_before_time_moves(backend: str) -> None:
    """A task that keeps yielding (ready work) holds the clock: the sleeper wakes only once
    it has finished."""

    async def main() -> tuple[float, float]:
        finished_at = 0.0
        async def busy() -> None:
            nonlocal finished_at
            for _ in range(2000):
                await anyio.lowlevel.checkpoint()
            finished_at = anyio.current_time()

        async with anyio.create_task_group() as tg:
            tg.start_soon(busy)
            await anyio.sleep(0.5)
            slept_until = anyio.current_time()
        return finished_at, slept_until

    finished_at, slept_until = run_virtual(main, backend=backend)  # type: ignore[arg-type]
    assert finished_at == 0.0
    assert slept_until == 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_thread_wakes_the_loop_when_no_timer_is_due(backend: str) -> None:
    """With nothing scheduled, the loop waits for real I/O (a worker thread finishing):
    virtual time does not move meanwhile."""

    async def main() -> tuple[str, float]:
        result = await anyio.to_thread.run_sync(lambda: "finished")
        return result, anyio.current_time()

    result, now = run_virtual(main, backend=backend)  # type: ignore[arg-type]
    assert result == "finished"
    assert now == 0.0


def test_the_asyncio_loop_on_its_own() -> None:
    """VirtualTimeEventLoop is an ordinary asyncio loop: sleeps and call_later keep virtual
    time, starting where asked."""

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        loop.call_later(2.5, lambda: fired.append(loop.time()))
        await asyncio.sleep(10.0)
        fired.append(loop.time())
        return fired

    loop = VirtualTimeEventLoop(start=100.0)
    try:
        assert loop.run_until_complete(main()) == [102.5, 110.0]
    finally:
        loop.close()


def test_a_result_and_an_error_come_back_as_they_are() -> None:
    async def answer(x: int) -> int:
        await anyio.sleep(1.0)
        return x * 2

    async def fail() -> None:
        await anyio.sleep(1.0)
        raise KeyError("mine")

    assert run_virtual(answer, 21) == 42
    with pytest.raises(KeyError, match="mine"):
        run_virtual(fail)


def test_an_unknown_backend_is_refused_by_name() -> None:
    with pytest.raises(realtalk.ConfigurationError, match=r"'asyncio', 'trio' for backend, "
                                                          r"got 'curio'"):
        virtual_backend("curio")  # type: ignore[arg-type]
    with pytest.raises(realtalk.ConfigurationError, match="backend"):
        run_virtual(anyio.sleep, 1.0, backend="uvloop")  # type: ignore[arg-type]


def test_each_call_makes_a_new_clock() -> None:
    _, first = virtual_backend("trio")
    _, second = virtual_backend("trio")
    assert first["clock"] is not second["clock"]


@pytest.mark.anyio
async def test_the_pytest_recipe_runs_a_test_in_virtual_time() -> None:
    """This directory's conftest.py sets anyio_backend to virtual_backend(...): a fresh clock
    at 0, and a day of sleeping in no time."""
    assert anyio.current_time() == 0.0
    with anyio.fail_after(86_400.5):
        await anyio.sleep(86_400.0)
    assert anyio.current_time() == 86_400.0


def test_trio_missing_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trio", None)
    monkeypatch.setitem(sys.modules, "trio.testing", None)
    with pytest.raises(realtalk.ConfigurationError, match=r"realtalk\[trio\]"):
        virtual_backend("trio")
