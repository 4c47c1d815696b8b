"""What a Conversation raises: the error itself (never an exception group), and
ConversationClosed with a message when used outside its ``async with`` block."""

from __future__ import annotations

import sys

import anyio
import numpy as np
import numpy.typing as npt
import pytest

import realtalk
from realtalk import wire as ev
from realtalk.testing import MemoryInput, MemoryOutput, MemoryProvider
from realtalk.transport import MemoryTransport

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

pytestmark = pytest.mark.anyio

CHUNK = b"\x10\x00" * 2400  # 100 ms


async def _silent_server(t: MemoryTransport) -> None:
    await t.receive()  # session.update
    await anyio.sleep_forever()


async def _speaking_server(t: MemoryTransport) -> None:
    """Starts a response with one audio delta, then waits."""
    await t.receive()
    await t.send(ev.encode(ev.ResponseCreated(response=ev.ResponseInfo(id="r1"))))
    await t.send(ev.encode(ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1",
                                                       delta=CHUNK)))
    await anyio.sleep_forever()


class _UnpluggedSpeaker(MemoryOutput):
    """A speaker that fails on the first audio written to it, as a device that went away."""

    def write(self, samples: npt.NDArray[np.int16]) -> None:
        raise realtalk.AudioError("the speaker was unplugged")


async def test_bad_audio_pushed_in_the_block_raises_the_audio_error_itself() -> None:
    """Stereo pushed into the microphone inside `async with`: AudioError, not a group."""
    mic = MemoryInput(realtime=False)
    with pytest.raises(realtalk.AudioError, match="mono") as info:
        async with realtalk.Conversation(MemoryProvider(_silent_server), input=mic):
            mic.push(np.zeros((480, 2), dtype=np.int16))
    # The error's own chain, not the task group's wrapping, is what the traceback shows.
    assert not isinstance(info.value.__context__, BaseExceptionGroup)


async def test_an_error_in_a_conversation_task_reaches_the_app_itself() -> None:
    """The speaker fails while the reader task plays audio: the app's loop ends and the
    AudioError comes out of `async with`, where `except realtalk.AudioError` catches it."""
    conv = realtalk.Conversation(MemoryProvider(_speaking_server), output=_UnpluggedSpeaker())

    async def listen() -> None:
        async with conv:
            with anyio.fail_after(5):
                async for _ in conv.events():
                    pass

    with pytest.raises(realtalk.AudioError, match="unplugged") as info:
        await listen()
    assert not getattr(info.value, "__notes__", [])
    assert conv.closed


async def test_errors_together_raise_the_realtalk_one_with_the_others_noted() -> None:
    """A task fails and the app's cleanup fails too: the AudioError, the app's ValueError
    named in its notes."""

    async def listen() -> None:
        async with realtalk.Conversation(MemoryProvider(_speaking_server),
                                         output=_UnpluggedSpeaker()):
            try:
                await anyio.sleep_forever()
            finally:
                raise ValueError("app cleanup failed")

    with pytest.raises(realtalk.AudioError, match="unplugged") as info:
        await listen()
    assert info.value.__notes__ == ["also raised: ValueError: app cleanup failed"]


async def test_an_app_error_that_is_not_realtalks_comes_out_as_it_is() -> None:
    """The app's own exception crosses `async with` unwrapped, as with no task group."""
    with pytest.raises(KeyError, match="mine"):
        async with realtalk.Conversation(MemoryProvider(_silent_server)):
            raise KeyError("mine")


async def test_cancelling_around_a_conversation_still_just_cancels() -> None:
    """A cancelled scope around the conversation ends it quietly, on both event loops."""
    with anyio.CancelScope() as scope:
        async with realtalk.Conversation(MemoryProvider(_silent_server)) as conv:
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert conv.closed


async def test_a_timeout_around_a_conversation_is_a_timeout() -> None:
    """anyio.fail_after around the conversation raises TimeoutError, not a group."""
    with pytest.raises(TimeoutError), anyio.fail_after(0.05):
        async with realtalk.Conversation(MemoryProvider(_silent_server)):
            await anyio.sleep_forever()


async def test_events_after_the_block_say_the_conversation_is_closed() -> None:
    """events() after `async with`, and a stream taken inside read after it:
    ConversationClosed saying so and what to do, no anyio error."""
    async with realtalk.Conversation(MemoryProvider(_silent_server)) as conv:
        stream = conv.events()
    with pytest.raises(realtalk.ConversationClosed,
                       match=r"events\(\): the conversation is closed .*new Conversation"):
        conv.events()
    with pytest.raises(realtalk.ConversationClosed, match=r"closed.*new Conversation"):
        await stream.__anext__()


@pytest.mark.parametrize("call", ["send_text", "create_response", "interrupt", "calibrate"])
async def test_calls_after_the_block_say_the_conversation_is_closed(call: str) -> None:
    """Every call after `async with` names itself and says the conversation is closed."""
    async with realtalk.Conversation(MemoryProvider(_silent_server)) as conv:
        pass
    args = ("hello",) if call == "send_text" else ()
    with pytest.raises(realtalk.ConversationClosed,
                       match=rf"{call}\(\): the conversation is closed \(its async with "
                             r"block ended\).*new Conversation"):
        await getattr(conv, call)(*args)


async def test_calls_before_entering_say_to_enter_first() -> None:
    """Before `async with`: ConversationClosed saying where to call it."""
    conv = realtalk.Conversation(MemoryProvider(_silent_server))
    with pytest.raises(realtalk.ConversationClosed, match=r"events\(\).*async with"):
        conv.events()
    with pytest.raises(realtalk.ConversationClosed, match=r"send_text\(\).*async with"):
        await conv.send_text("hi")


async def test_entering_twice_says_to_create_a_new_one() -> None:
    """A second `async with` on the same Conversation is refused with the remedy."""
    conv = realtalk.Conversation(MemoryProvider(_silent_server))
    async with conv:
        pass
    with pytest.raises(realtalk.ConversationClosed, match=r"only once.*new one"):
        async with conv:
            pass
