"""MemoryTranscriptStore: a conversation records into it, and a failing store is an error
event, not the end of the conversation."""

from __future__ import annotations

import anyio
import pytest

import realtalk
from realtalk import wire as ev
from realtalk.testing import MemoryProvider, MemoryTranscriptStore
from realtalk.transcripts import TranscriptRecord, TranscriptStoreError
from realtalk.transport import MemoryTransport

pytestmark = pytest.mark.anyio

SAID = ["first words", "second words", "third words"]


async def _server(t: MemoryTransport) -> None:
    await t.receive()  # session.update
    for n, text in enumerate(SAID):
        await t.send(ev.encode(ev.InputAudioTranscriptionCompleted(item_id=f"u{n}",
                                                                   transcript=text)))
    await anyio.sleep_forever()


async def _converse(store: MemoryTranscriptStore) -> list[object]:
    """Every event until the last user transcript."""
    seen: list[object] = []
    async with realtalk.Conversation(MemoryProvider(_server), transcripts=store) as conv:
        with anyio.fail_after(5):
            async for event in conv.events():
                seen.append(event)
                if isinstance(event, realtalk.UserTranscript) and event.text == SAID[-1]:
                    break
    return seen


async def test_a_conversation_records_every_transcript_in_order() -> None:
    store = MemoryTranscriptStore()
    await _converse(store)
    records = store.records()
    assert [r.text for r in records] == SAID
    assert [r.id for r in records] == [1, 2, 3]
    assert {r.role for r in records} == {"user"}
    (summary,) = store.conversations()
    assert summary.user_transcripts == 3
    assert store.entries(summary.conversation_id) == records
    assert store.entries("another conversation") == []


async def test_a_store_told_to_fail_once_gives_one_error_event_and_records_the_rest() -> None:
    store = MemoryTranscriptStore()
    store.fail(times=1, message="database is locked")
    seen = await _converse(store)
    errors = [e for e in seen if isinstance(e, realtalk.ErrorOccurred)]
    assert [e.message for e in errors] == ["transcript store: database is locked"]
    assert not errors[0].fatal
    assert [e.text for e in store.refused if isinstance(e, TranscriptRecord)] == SAID[:1]
    assert [r.text for r in store.records()] == SAID[1:]
    # The transcript itself still reached the app.
    assert [e.text for e in seen if isinstance(e, realtalk.UserTranscript)] == SAID


def test_failing_until_told_to_recover_and_closing() -> None:
    entry = TranscriptRecord(conversation_id="c", item_id="i", role="user", text="hi",
                             wall_time=0.0)
    with MemoryTranscriptStore() as store:
        store.fail()
        for _ in range(3):
            with pytest.raises(TranscriptStoreError, match="failing"):
                store.append(entry)
        store.recover()
        store.append(entry)
        assert len(store.refused) == 3
        assert store.records() == [TranscriptRecord(conversation_id="c", item_id="i",
                                                     role="user", text="hi", wall_time=0.0,
                                                     id=1)]
    with pytest.raises(TranscriptStoreError, match="closed"):
        store.append(entry)
    assert len(store.entries()) == 1
    with pytest.raises(realtalk.ConfigurationError, match="times"):
        store.fail(times=0)
