"""A Conversation that outlives its connection, over real WebSockets to the embedded server on
loopback, with the server's fault plan: a drop mid-reply, a reply heard whole, refused
handshakes, a spent budget, a stall caught by the keepalive; what the second session holds
and what the transcript store keeps (each transcript once, the reconnect marked where it
happened). And one that rolls over to a fresh session before the hosted maximum, in virtual
time against the in-process server: at a turn boundary, with the context restored, the old
connection kept until the switch, no reply cut, a refused opening retried, and the rollover
marked in the transcript store."""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

import realtalk
from realtalk.providers import RemoteProvider
from realtalk.server import (
    Drop,
    Fault,
    FaultPlan,
    RealtimeServer,
    ScriptedResponder,
    ScriptedTranscriber,
    ServerOptions,
    Stall,
    SyntheticVoice,
)
from realtalk.testing import InProcessServer, MemoryTranscriptStore, virtual_backend
from realtalk.transcripts import Entry, InterruptionMark, SQLiteTranscriptStore, TranscriptRecord
from realtalk.transport import Keepalive, Transport

pytestmark = pytest.mark.anyio

DELTA = "response.output_audio.delta"
REPLIES = ["Hi there.", "Here is more."]


@contextlib.contextmanager
def _server(plan: FaultPlan | None = None, said: Sequence[str] = ()) -> Iterator[RealtimeServer]:
    """The embedded server on loopback; spoken turns are transcribed as ``said``, in order,
    across its sessions (one transcriber for all: a new session's first turn is the
    conversation's next)."""
    transcriber = ScriptedTranscriber(said)
    server = RealtimeServer(
        options=ServerOptions(first_audio_latency_ms=0, generation_speed=math.inf,
                              chunk_ms=100),
        responder_factory=lambda: ScriptedResponder(REPLIES),
        transcriber_factory=lambda: transcriber, faults=plan)
    with server.running_in_thread():
        yield server


def _provider(server: RealtimeServer, keepalive: Keepalive | None = None) -> RemoteProvider:
    return realtalk.providers.endpoint(f"{server.url}?model=gpt-realtime", keepalive=keepalive)


class _Failover:
    """A provider whose first connection goes to one server and the next ones to another."""

    shape = "ga"

    def __init__(self, first: RemoteProvider, then: RemoteProvider) -> None:
        self._providers = [first, then]

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        provider = self._providers[0]
        del self._providers[:-1]
        return provider.connect()


@contextlib.contextmanager
def _failover(refusals: int) -> Iterator[tuple[RealtimeServer, _Failover]]:
    """A server that drops the first connection mid-reply, and a standby that refuses its
    first ``refusals`` handshakes; the provider connects to the first, then to the standby."""
    first = FaultPlan([Fault(Drop("reset"), before=DELTA, nth=2)])
    with _server(first) as lost, _server(FaultPlan(refuse_handshakes=refusals)) as standby:
        yield standby, _Failover(_provider(lost), _provider(standby))


def _fast(attempts: int = 5, seed: int = 0) -> realtalk.Reconnect:
    return realtalk.Reconnect(attempts=attempts, backoff_s=0.02, max_backoff_s=0.1,
                              rng=random.Random(seed))


async def _until(conv: realtalk.Conversation, kind: type[Any], seen: list[Any]) -> Any:
    """Read events (kept in ``seen``) up to the first of type ``kind``, and return it."""
    with anyio.fail_after(20):
        async for event in conv.events():
            seen.append(event)
            if isinstance(event, kind):
                return event
    raise AssertionError(f"the conversation ended before a {kind.__name__}: {seen[-3:]}")


async def _until_quiet(conv: realtalk.Conversation, seen: list[Any]) -> None:
    """Read events up to the end of a reply's playback (back to listening)."""
    with anyio.fail_after(20):
        async for event in conv.events():
            seen.append(event)
            if isinstance(event, realtalk.StateChanged) and event.old is realtalk.State.SPEAKING \
                    and event.new is realtalk.State.LISTENING:
                return


def _texts(server: RealtimeServer | InProcessServer, session: int) -> list[tuple[str | None, str]]:
    return [(item.role, item.text()) for item in server.sessions[session].conversation]


def _of(seen: list[Any], kind: type[Any]) -> list[Any]:
    return [event for event in seen if isinstance(event, kind)]


async def test_a_drop_mid_reply_reconnects_restores_and_goes_on() -> None:
    """The reply the drop cut off is reported, not asked again; the second session holds the
    conversation as heard, and a new reply plays on it."""
    plan = FaultPlan([Fault(Drop("reset"), before=DELTA, nth=3, session=1)])
    seen: list[Any] = []
    with _server(plan) as server:
        async with realtalk.Conversation(_provider(server), barge_in=None,
                                         reconnect=_fast()) as conv:
            await conv.send_text("hello")
            reconnecting = await _until(conv, realtalk.Reconnecting, seen)
            reconnected = await _until(conv, realtalk.Reconnected, seen)
            await conv.send_text("again")
            await _until_quiet(conv, seen)
    assert reconnecting.attempt == 1 and "no close frame" in reconnecting.reason
    lost = reconnected.lost_response
    assert lost is not None and REPLIES[0].startswith(lost.heard_text)
    heard = [("assistant", lost.heard_text)] if lost.heard_text else []
    assert reconnected.items_restored == 1 + len(heard)
    texts = _texts(server, 1)
    assert texts[:2 + len(heard)] == [("user", "hello"), *heard, ("user", "again")]
    assert texts[-1] == ("assistant", REPLIES[0])  # the second session's first reply
    assert not any(isinstance(e, realtalk.ErrorOccurred) and e.fatal for e in seen)
    assert len(_of(seen, realtalk.ResponseStarted)) == 2  # the lost reply was not re-asked


async def test_a_reply_heard_whole_is_restored_and_transcripts_are_kept_once() -> None:
    """A drop between turns: the second session gets both turns and the whole reply; the
    transcript store has each transcript once, in order, across the reconnect."""
    plan = FaultPlan([Fault(Drop("eof"), before="response.created", nth=2, session=1)])
    store = MemoryTranscriptStore()
    seen: list[Any] = []
    with _server(plan) as server:
        async with realtalk.Conversation(_provider(server), barge_in=None, transcripts=store,
                                         reconnect=_fast()) as conv:
            await conv.send_text("hello")
            await _until_quiet(conv, seen)
            await conv.send_text("more please")
            reconnected = await _until(conv, realtalk.Reconnected, seen)
            await conv.create_response()
            await _until_quiet(conv, seen)
    assert reconnected.lost_response is None and reconnected.items_restored == 3
    assert _texts(server, 1)[:3] == [("user", "hello"), ("assistant", REPLIES[0]),
                                     ("user", "more please")]
    records = [e for e in store.entries() if isinstance(e, TranscriptRecord)]
    assert [(r.role, r.text) for r in records] == [("assistant", REPLIES[0]),
                                                   ("assistant", REPLIES[0])]
    assert len({r.item_id for r in records}) == 2


SAID = ["what about tomorrow", "and the day after that"]
TURNS = realtalk.SessionConfig(turn_detection=realtalk.TurnDetection(silence_duration_ms=300))
APP_ASKS = realtalk.SessionConfig(turn_detection=realtalk.TurnDetection(
    silence_duration_ms=300, create_response=False))


def _say(mic: realtalk.audio.MemoryInput, n: int) -> None:
    """The user speaks turn ``n``: a word (half a second of real time over loopback), which
    the scripted server transcribes as ``SAID[n]``."""
    mic.push(SyntheticVoice(seed=3 + n, pitch_hz=220).synthesize("okay").samples)


def _audit(entries: list[Entry]) -> list[tuple[str, str]]:
    """The stored conversation as an audit reads it: each transcript's role and text, each
    mark's kind."""
    return [(e.role, e.text) if isinstance(e, TranscriptRecord) else ("mark", e.kind)
            for e in entries]


async def test_the_transcript_store_marks_the_reconnect_between_the_turns(
        tmp_path: Path) -> None:
    """A spoken turn is transcribed, then the connection drops before its reply is created:
    in the store, each transcript once and in order, with the reconnect marked after that
    turn and before the reply the new session gives (and the next spoken turn after it).

    The app asks for each reply (``create_response`` off), so the drop comes only once the
    turn's transcript is in: a drop right after the server's commit could lose the
    transcript's frames on the wire, which no client can store."""
    plan = FaultPlan([Fault(Drop("eof"), before="response.created", nth=2, session=1)])
    mic = realtalk.audio.MemoryInput(noise_dbfs=-70.0)
    seen: list[Any] = []
    with _server(plan, said=SAID) as server, SQLiteTranscriptStore(tmp_path / "t.db") as store:
        async with realtalk.Conversation(_provider(server), config=APP_ASKS, input=mic,
                                         barge_in=None, transcripts=store,
                                         reconnect=_fast()) as conv:
            await conv.send_text("hello")
            await _until_quiet(conv, seen)
            _say(mic, 0)
            await _until(conv, realtalk.UserTranscript, seen)
            await conv.create_response()
            reconnected = await _until(conv, realtalk.Reconnected, seen)
            await conv.create_response()
            await _until_quiet(conv, seen)
            _say(mic, 1)
            await _until(conv, realtalk.UserTranscript, seen)
            await conv.create_response()
            await _until_quiet(conv, seen)
        entries = store.entries()
    assert [e.text for e in _of(seen, realtalk.UserTranscript)] == SAID
    assert len(server.sessions) == 2 and reconnected.lost_response is None
    assert _audit(entries) == [
        ("assistant", REPLIES[0]), ("user", SAID[0]),
        ("mark", "reconnected"),
        ("assistant", REPLIES[0]), ("user", SAID[1]), ("assistant", REPLIES[1])]
    (mark,) = [e for e in entries if isinstance(e, InterruptionMark)]
    assert (mark.item_id, mark.heard_ms, mark.at) == (None, None, reconnected.at)
    assert mark.detail == (f"attempts=1 downtime_ms={reconnected.downtime_s * 1000:.0f} "
                           f"items_restored=3 audio_dropped_ms="
                           f"{reconnected.audio_dropped_ms:.0f}")


async def test_refused_handshakes_count_against_the_budget_with_backoff() -> None:
    """Each refused handshake is an attempt, waited for with the seeded backoff, until one
    is accepted and the context is restored there."""
    seen: list[Any] = []
    with _failover(refusals=2) as (standby, provider):
        async with realtalk.Conversation(provider, barge_in=None,  # type: ignore[arg-type]
                                         reconnect=_fast(seed=7)) as conv:
            await conv.send_text("hello")
            reconnected = await _until(conv, realtalk.Reconnected, seen)
    attempts = _of(seen, realtalk.Reconnecting)
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all("503" in a.reason for a in attempts[1:])
    expected = _fast(seed=7)
    assert [a.delay_s for a in attempts] == [expected.delay(n) for n in (1, 2, 3)]
    assert reconnected.attempts == 3
    assert _texts(standby, 0)[0] == ("user", "hello")


async def test_the_budget_spent_is_a_fatal_error_naming_the_last_reason() -> None:
    seen: list[Any] = []
    with _failover(refusals=10) as (_, provider):
        async with realtalk.Conversation(provider, barge_in=None,  # type: ignore[arg-type]
                                         reconnect=_fast(attempts=2)) as conv:
            await conv.send_text("hello")
            error = await _until(conv, realtalk.ErrorOccurred, seen)
            with anyio.fail_after(5):
                async for event in conv.events():
                    seen.append(event)
            assert conv.closed and conv.closed_reason == error.message
    assert error.fatal and "503" in error.message
    assert "gave up after 2 reconnect attempts" in error.message
    assert [a.attempt for a in _of(seen, realtalk.Reconnecting)] == [1, 2]
    assert not _of(seen, realtalk.Reconnected)


async def test_a_stall_caught_by_the_keepalive_reconnects() -> None:
    plan = FaultPlan([Fault(Stall(), before=DELTA, nth=2, session=1)])
    seen: list[Any] = []
    with _server(plan) as server:
        provider = _provider(server, Keepalive(interval=0.1, timeout=0.3))
        async with realtalk.Conversation(provider, barge_in=None, reconnect=_fast()) as conv:
            await conv.send_text("hello")
            reconnecting = await _until(conv, realtalk.Reconnecting, seen)
            reconnected = await _until(conv, realtalk.Reconnected, seen)
    assert "keepalive" in reconnecting.reason
    assert reconnected.attempts == 1 and len(server.sessions) == 2
    assert _texts(server, 1)[0] == ("user", "hello")


# -- rollover, in virtual time against the in-process server --------------------------------

_virtual = pytest.mark.parametrize("anyio_backend", [virtual_backend("asyncio"),
                                                     virtual_backend("trio")],
                                   ids=["asyncio", "trio"])
ROLLOVER_REPLIES = ["Hi there, nice to meet you.", "Here is more of the same."]


def _in_process() -> InProcessServer:
    return InProcessServer(
        options=ServerOptions(first_audio_latency_ms=20.0, generation_speed=1.0, chunk_ms=100),
        responder_factory=lambda: ScriptedResponder(ROLLOVER_REPLIES))


def _rolling(after_s: float) -> realtalk.Reconnect:
    return realtalk.Reconnect(backoff_s=0.5, rng=random.Random(0), rollover_after_s=after_s)


@_virtual
async def test_a_quiet_conversation_rolls_over_with_its_context_and_goes_on() -> None:
    server = _in_process()
    seen: list[Any] = []
    async with realtalk.Conversation(server, barge_in=None, reconnect=_rolling(8.0)) as conv:
        await conv.send_text("hello")
        await _until_quiet(conv, seen)
        rolled = await _until(conv, realtalk.RolledOver, seen)
        assert len(server.sessions) == 2 and not server.sessions[1].closed
        await conv.send_text("again")
        await _until_quiet(conv, seen)
        assert server.sessions[0].closed  # closed after the switch, before this reply ended
    assert 8.0 <= rolled.session_age_s < 9.0 and rolled.items_restored == 2
    assert _texts(server, 1) == [("user", "hello"), ("assistant", ROLLOVER_REPLIES[0]),
                                 ("user", "again"), ("assistant", ROLLOVER_REPLIES[0])]
    assert not any(isinstance(e, realtalk.Reconnecting | realtalk.ErrorOccurred) for e in seen)
    assert not any(isinstance(e, realtalk.StateChanged) and e.at == rolled.at for e in seen)
    assert server.sessions[0].stats.responses_completed == 1


@_virtual
async def test_a_rollover_due_mid_reply_waits_for_it_to_play_out() -> None:
    """Due while the reply plays: the new connection is opened meanwhile, the switch comes
    after the reply's last sample, and nothing of it is cut."""
    server = _in_process()
    speaker = realtalk.audio.MemoryOutput()
    seen: list[Any] = []
    async with realtalk.Conversation(server, barge_in=None, output=speaker,
                                     reconnect=_rolling(1.0)) as conv:
        await conv.send_text("hello")
        rolled = await _until(conv, realtalk.RolledOver, seen)
        assert len(server.sessions) == 2
        heard = len(speaker.recording())
        await conv.send_text("again")  # (and the restore is in by its reply)
        await _until_quiet(conv, seen)
    ended = next(e for e in seen if isinstance(e, realtalk.StateChanged)
                 and e.old is realtalk.State.SPEAKING)
    assert seen.index(ended) < seen.index(rolled) and rolled.waited_s > 0.5
    assert not any(isinstance(e, realtalk.Interrupted) for e in seen)
    first = server.sessions[0]
    item = next(i for i in first.conversation if i.is_assistant_audio())
    assert heard == round(item.audio_ms * 24)  # heard whole
    assert first.stats.truncations == 0 and first.stats.responses_cancelled == 0
    assert _texts(server, 1)[:3] == [("user", "hello"), ("assistant", ROLLOVER_REPLIES[0]),
                                     ("user", "again")]


@_virtual
async def test_the_transcript_store_marks_the_rollover_between_the_turns(
        tmp_path: Path) -> None:
    """A spoken turn and its reply, a rollover at the quiet moment after them, another turn
    on the new session: in the store, each transcript once and in order, the rollover
    marked between the turns."""
    transcriber = ScriptedTranscriber(SAID)
    server = InProcessServer(
        options=ServerOptions(first_audio_latency_ms=20.0, generation_speed=1.0, chunk_ms=100),
        responder_factory=lambda: ScriptedResponder(ROLLOVER_REPLIES),
        transcriber_factory=lambda: transcriber)
    mic = realtalk.audio.MemoryInput(noise_dbfs=-70.0)
    seen: list[Any] = []
    with SQLiteTranscriptStore(tmp_path / "t.db") as store:
        async with realtalk.Conversation(server, config=TURNS, input=mic, barge_in=None,
                                         transcripts=store, reconnect=_rolling(8.0)) as conv:
            _say(mic, 0)
            await _until_quiet(conv, seen)
            rolled = await _until(conv, realtalk.RolledOver, seen)
            _say(mic, 1)
            await _until_quiet(conv, seen)
        entries = store.entries()
        (summary,) = store.conversations()
    assert len(server.sessions) == 2
    assert _audit(entries) == [
        ("user", SAID[0]), ("assistant", ROLLOVER_REPLIES[0]),
        ("mark", "rolled_over"),
        ("user", SAID[1]), ("assistant", ROLLOVER_REPLIES[0])]
    (mark,) = [e for e in entries if isinstance(e, InterruptionMark)]
    assert mark.at == rolled.at
    assert mark.detail == (f"session_age_s={rolled.session_age_s:.2f} "
                           f"waited_s={rolled.waited_s:.2f} items_restored=2")
    assert (summary.rollovers, summary.reconnects, summary.user_transcripts) == (1, 0, 2)


class _RefusingSecond:
    """The in-process server, but its second connection is refused."""

    shape = "ga"

    def __init__(self, server: InProcessServer) -> None:
        self._server = server
        self.connects = 0

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        self.connects += 1
        return self._refused() if self.connects == 2 else self._server.connect()

    @contextlib.asynccontextmanager
    async def _refused(self) -> AsyncIterator[Transport]:
        raise realtalk.ConnectError("HTTP 503 while opening the next session")
        yield  # pragma: no cover


@_virtual
async def test_a_refused_opening_is_retried_and_the_old_session_carries_on() -> None:
    server = _in_process()
    provider = _RefusingSecond(server)
    seen: list[Any] = []
    async with realtalk.Conversation(provider, barge_in=None,  # type: ignore[arg-type]
                                     reconnect=_rolling(5.0)) as conv:
        rolled = await _until(conv, realtalk.RolledOver, seen)
    assert provider.connects == 3 and len(server.sessions) == 2
    assert 5.25 <= rolled.session_age_s <= 5.5  # the first retry's backoff: 0.25-0.5 s
    assert not any(isinstance(e, realtalk.Reconnecting | realtalk.ErrorOccurred) for e in seen)


async def test_a_conversation_reconnects_by_default() -> None:
    """No reconnect settings: a dropped connection is reopened and the conversation goes on
    (``reconnect=None`` is what ends it)."""
    plan = FaultPlan([Fault(Drop("reset"), before="response.output_audio.delta", nth=2,
                            session=1)])
    provider = realtalk.providers.local(first_audio_latency_ms=0, generation_speed=50.0,
                                        faults=plan)
    seen: list[Any] = []
    async with realtalk.Conversation(provider, barge_in=None) as conv:
        assert conv.engine.reconnect == realtalk.Reconnect()
        await conv.send_text("hello")
        reconnected = await _until(conv, realtalk.Reconnected, seen)
    assert reconnected.attempts == 1 and reconnected.items_restored >= 1
    assert not [e for e in seen if isinstance(e, realtalk.ErrorOccurred) and e.fatal]
