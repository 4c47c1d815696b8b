"""TranscriptRecorder: conversation events in, records out; and end to end on a real
conversation with the embedded server, under asyncio and trio."""

from __future__ import annotations

from pathlib import Path

import anyio
import attrs
import pytest

import realtalk
from realtalk import (
    AssistantTranscript,
    FalseInterruption,
    Interrupted,
    InterruptionLatency,
    State,
    StateChanged,
    UserTranscript,
)
from realtalk.echo.transcript import (
    AssistantSpeechHistory,
    EchoTranscriptDropped,
    TranscriptVerdict,
    default_transcript_filters,
)
from realtalk.reconnect import LostResponse
from realtalk.server import ScriptedResponder, ScriptedTranscriber, ServerOptions, SyntheticVoice
from realtalk.testing import InProcessServer, virtual_backend
from realtalk.transcripts import (
    InterruptionMark,
    SQLiteTranscriptStore,
    TranscriptRecord,
    TranscriptRecorder,
)

VERDICT = TranscriptVerdict(filter="similarity", drop=True, reason="matches", score=0.95,
                            matched="the forecast")


def test_each_transcript_event_becomes_one_entry(tmp_path: Path) -> None:
    """User (kept, with verdicts, and dropped), assistant (with its interruption), barge-in
    and false barge-in are stored; other events are not."""
    clock = iter(float(t) for t in range(1000, 2000))
    with SQLiteTranscriptStore(tmp_path / "t.db") as store:
        recorder = TranscriptRecorder(store, conversation_id="conv-1",
                                      wall_clock=lambda: next(clock))
        latency = InterruptionLatency(onset=9.8, detected=10.0, playback_stopped=10.01)
        events: list[object] = [
            StateChanged(old=State.LISTENING, new=State.SPEAKING, at=9.0),
            Interrupted(response_id="r1", item_id="a1", source="local", heard_ms=980.0,
                        received_ms=4000.0, truncate_ms=980, cancel_sent=True,
                        timed_out=False, latency=latency),
            AssistantTranscript(response_id="r1", item_id="a1", text="The forecast is",
                                interrupted=True, heard_ms=980.0, at=10.2),
            EchoTranscriptDropped(item_id="u1", text="the forecast", verdict=VERDICT,
                                  verdicts=(VERDICT,), at=11.0),
            FalseInterruption(item_id="a1", heard_ms=980.0, detected=10.0, resumed=True,
                              at=12.5),
        ]
        returned = [recorder.record(e) for e in events]
        kept = UserTranscript(item_id="u2", text="what about sunday", at=14.0)
        returned.append(recorder.record(kept, verdicts=[
            TranscriptVerdict(filter="timing", drop=False, reason="no", score=0.2)]))
        entries = store.entries()
    assert returned[0] is None
    assert [type(e) for e in entries] == [InterruptionMark, TranscriptRecord, TranscriptRecord,
                                          InterruptionMark, TranscriptRecord]
    barge_in, assistant, dropped, false, user = entries
    assert isinstance(barge_in, InterruptionMark)
    assert (barge_in.kind, barge_in.heard_ms, barge_in.at, barge_in.detail) == \
        ("interrupted", 980.0, 10.0, "source=local")
    assert isinstance(assistant, TranscriptRecord)
    assert (assistant.role, assistant.interrupted, assistant.heard_ms, assistant.response_id) \
        == ("assistant", True, 980.0, "r1")
    assert isinstance(dropped, TranscriptRecord)
    assert dropped.dropped
    assert dropped.verdicts == (VERDICT,)
    assert isinstance(false, InterruptionMark)
    assert (false.kind, false.detail) == ("false_interruption", "resumed=True")
    assert isinstance(user, TranscriptRecord)
    assert not user.dropped
    assert user.verdicts[0].filter == "timing"
    assert all(e.conversation_id == "conv-1" for e in entries)
    assert [e.wall_time for e in entries] == [1000.0, 1001.0, 1002.0, 1003.0, 1004.0]


def test_reconnects_and_rollovers_become_marks(tmp_path: Path) -> None:
    """A reconnect is a "reconnected" mark on the reply the loss cut off (if any), a rollover
    a "rolled_over" mark; their figures are in the detail, their time is the event's."""
    lost = LostResponse(response_id="r7", item_id="a7", heard_ms=1234.4, heard_text="Once upon")
    events = [
        realtalk.Reconnected(attempts=2, downtime_s=0.2126, items_restored=5,
                             lost_response=lost, audio_dropped_ms=180.0, at=30.5),
        realtalk.Reconnected(attempts=1, downtime_s=0.15, items_restored=3,
                             lost_response=None, audio_dropped_ms=0.0, at=40.0),
        realtalk.RolledOver(session_age_s=1500.254, waited_s=12.5, items_restored=42,
                            at=1600.0),
    ]
    with SQLiteTranscriptStore(tmp_path / "t.db") as store:
        recorder = TranscriptRecorder(store, conversation_id="c", wall_clock=lambda: 5.0)
        for event in events:
            recorder.record(event)
        entries = store.entries()
    assert [attrs.evolve(e, id=None) for e in entries] == [
        # The lost reply's transcript never came: the words the user heard of it are kept.
        TranscriptRecord(conversation_id="c", item_id="a7", role="assistant", text="Once upon",
                         wall_time=5.0, at=30.5, response_id="r7", interrupted=True,
                         heard_ms=1234.4),
        InterruptionMark(conversation_id="c", item_id="a7", kind="reconnected",
                         heard_ms=1234.4, wall_time=5.0, at=30.5,
                         detail="attempts=2 downtime_ms=213 items_restored=5 "
                                "audio_dropped_ms=180 lost_response=r7"),
        InterruptionMark(conversation_id="c", item_id=None, kind="reconnected", heard_ms=None,
                         wall_time=5.0, at=40.0,
                         detail="attempts=1 downtime_ms=150 items_restored=3 "
                                "audio_dropped_ms=0"),
        InterruptionMark(conversation_id="c", item_id=None, kind="rolled_over", heard_ms=None,
                         wall_time=5.0, at=1600.0,
                         detail="session_age_s=1500.25 waited_s=12.50 items_restored=42"),
    ]


def test_a_lost_reply_whose_transcript_is_stored_is_not_stored_again(tmp_path: Path) -> None:
    """The reply's transcript came before the loss (its audio was still playing): the store
    has it, and the reconnect adds only its mark."""
    lost = LostResponse(response_id="r7", item_id="a7", heard_ms=800.0, heard_text="Once upon")
    with SQLiteTranscriptStore(tmp_path / "t.db") as store:
        recorder = TranscriptRecorder(store, conversation_id="c", wall_clock=lambda: 5.0)
        recorder.record(AssistantTranscript(response_id="r7", item_id="a7",
                                            text="Once upon a time", interrupted=False,
                                            heard_ms=None, at=30.0))
        recorder.record(realtalk.Reconnected(attempts=1, downtime_s=0.2, items_restored=2,
                                             lost_response=lost, audio_dropped_ms=0.0,
                                             at=30.5))
        entries = store.entries()
    assert [(type(e).__name__, e.item_id) for e in entries] == [
        ("TranscriptRecord", "a7"), ("InterruptionMark", "a7")]


def test_conversation_ids_are_unique_by_default(tmp_path: Path) -> None:
    """Without an id, each recorder makes its own."""
    with SQLiteTranscriptStore(tmp_path / "t.db") as store:
        a, b = TranscriptRecorder(store), TranscriptRecorder(store)
    assert a.conversation_id != b.conversation_id
    assert len(a.conversation_id) == 32


LONG_REPLY = ("This is a long answer with many words, so that the user can talk over it well "
              "before it ends, and the truncation lands in the middle of a sentence.")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", [virtual_backend("asyncio"), virtual_backend("trio")],
                         ids=["asyncio", "trio"])
async def test_recording_a_real_conversation_with_a_barge_in(tmp_path: Path) -> None:
    """An app records every event of a conversation with a voice barge-in, judging user
    transcripts with the default filters: the store holds the interrupted reply with what
    was heard, the barge-in, and the user's words kept with both verdicts. (The embedded
    server runs in the test's loop, in virtual time.)"""
    # Generated at twice real time, the reply's transcript is still being generated when the
    # user barges in, so the core reports it interrupted (a transcript finished before the
    # interruption is reported as it was, and the interruption as its own mark).
    provider = InProcessServer(
        options=ServerOptions(first_audio_latency_ms=20.0, generation_speed=2.0),
        responder_factory=lambda: ScriptedResponder([LONG_REPLY, "Short answer."]),
        transcriber_factory=lambda: ScriptedTranscriber(["Wait, stop please."]))
    mic = realtalk.audio.MemoryInput(noise_dbfs=-70.0)
    config = realtalk.SessionConfig(turn_detection=realtalk.TurnDetection(
        silence_duration_ms=300, interrupt_response=False))
    history = AssistantSpeechHistory()
    chain = default_transcript_filters()
    path = tmp_path / "conversations.db"
    with SQLiteTranscriptStore(path) as store:
        recorder = TranscriptRecorder(store)
        async with realtalk.Conversation(provider, config=config, input=mic,
                                         barge_in=realtalk.BargeIn(min_speech_ms=40)) as conv:
            await conv.send_text("Tell me something long.")
            pushed = heard = interrupted = False
            with anyio.fail_after(20):
                async for event in conv.events():
                    # The words can come before the stop: the interruption decision may
                    # wait for them.
                    if isinstance(event, UserTranscript):
                        judgement, dropped = chain.screen(event, history.context_for(event))
                        history.observe(dropped or event)
                        recorder.record(dropped or event, verdicts=judgement.verdicts)
                        heard = True
                    else:
                        history.observe(event)
                        recorder.record(event)
                        interrupted = interrupted or isinstance(event, Interrupted)
                    if heard and interrupted:
                        break
                    if (isinstance(event, StateChanged) and event.new is State.SPEAKING
                            and not pushed):
                        pushed = True
                        await anyio.sleep(0.4)
                        mic.push(SyntheticVoice(seed=3, pitch_hz=220).synthesize(
                            "Wait, stop please.").samples)
    with SQLiteTranscriptStore(path, readonly=True) as reader:
        entries = reader.entries()
    marks = [e for e in entries if isinstance(e, InterruptionMark)]
    records = [e for e in entries if isinstance(e, TranscriptRecord)]
    assert [m.kind for m in marks] == ["interrupted"]
    (assistant,) = [r for r in records if r.role == "assistant"]
    assert assistant.interrupted
    assert assistant.heard_ms is not None and 0 < assistant.heard_ms == marks[0].heard_ms
    (user,) = [r for r in records if r.role == "user"]
    assert user.text == "Wait, stop please."
    assert not user.dropped
    assert [v.filter for v in user.verdicts] == ["timing", "similarity"]
    assert all("allowlisted" in v.reason for v in user.verdicts)


@pytest.mark.anyio
async def test_arecord_writes_from_a_worker_thread(tmp_path: Path) -> None:
    """The async variant stores the same entry, in order, under asyncio and trio."""
    with SQLiteTranscriptStore(tmp_path / "t.db", durability="power") as store:
        recorder = TranscriptRecorder(store, conversation_id="c")
        for i in range(5):
            entry = await recorder.arecord(UserTranscript(item_id=f"u{i}", text=f"hi {i}",
                                                          at=float(i)))
            assert isinstance(entry, TranscriptRecord)
        assert await recorder.arecord(StateChanged(old=State.IDLE, new=State.LISTENING,
                                                   at=0.0)) is None
        assert [r.item_id for r in store.records()] == [f"u{i}" for i in range(5)]
