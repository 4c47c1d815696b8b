# mypy: disable-error-code="comparison-overlap"
# (mypy narrows ClientSession.state after one assert and cannot see a call change it.)
"""The sans-I/O session core: barge-in order, truncation, late deltas, races, timeouts."""

from __future__ import annotations

import pytest

from realtalk import BargeIn
from realtalk import wire as ev
from realtalk.errors import ConfigurationError
from realtalk.session import (
    ClientSession,
    DuckPlayback,
    EndOfAudio,
    ErrorOccurred,
    FalseInterruption,
    Interrupted,
    OtherServerEvent,
    Output,
    PlayAudio,
    PlaybackPosition,
    ResponseAudioStarted,
    SendEvent,
    State,
    StateChanged,
    StopPlayback,
    UserSpeechStarted,
    UserTranscript,
)

RATE = 24_000
CHUNK = b"\x01\x00" * 2400  # 100 ms of PCM16


def _sends(outputs: list[Output]) -> list[ev.ClientEvent]:
    return [o.event for o in outputs if isinstance(o, SendEvent)]


def _speaking(chunks: int = 5, response_id: str = "r1", item_id: str = "i1",
              progress_interval: float | None = 0.1,
              barge_in: BargeIn | None = None) -> ClientSession:
    s = ClientSession(progress_interval=progress_interval, barge_in=barge_in)
    s.open(0.0)
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id=response_id)), 0.1)
    for _ in range(chunks):
        s.receive(ev.ResponseOutputAudioDelta(response_id=response_id, item_id=item_id,
                                              delta=CHUNK), 0.1)
    s.outputs()
    return s


def _barge(s: ClientSession, now: float, played: int | None = None, **kwargs: object) -> None:
    """A barge-in as the I/O layer performs it: detect, stop the output, report the stop."""
    s.user_speech(now, **kwargs)  # type: ignore[arg-type]
    s.playback_stopped(now, played if played is not None else s.tracker.played)


def _done(response_id: str = "r1", status: ev.ResponseStatus = "completed") -> ev.ResponseDone:
    return ev.ResponseDone(response=ev.ResponseInfo(id=response_id, status=status))


def test_open_sends_session_update_and_listens() -> None:
    """Opening moves idle -> listening and configures the session first."""
    s = ClientSession()
    s.open(1.0)
    out = s.outputs()
    assert s.state is State.LISTENING
    assert isinstance(out[0], StateChanged)
    assert isinstance(_sends(out)[0], ev.SessionUpdate)


def test_first_audio_starts_speaking_and_queues_playback() -> None:
    """The first delta of a response is played and moves listening -> speaking."""
    s = ClientSession()
    s.open(0.0)
    s.outputs()
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r1")), 0.1)
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1", delta=CHUNK), 0.2)
    out = s.outputs()
    assert s.state is State.SPEAKING
    assert [type(o) for o in out if not isinstance(o, ev.ResponseCreated)][1:] == [
        ResponseAudioStarted, PlayAudio, StateChanged]


def test_barge_in_action_order() -> None:
    """Stop playback, then response.cancel, then the truncate, in one step."""
    s = _speaking()
    s.playback_progress(3600, 0.3)
    _barge(s, 0.31, onset=0.2)
    out = s.outputs()
    actions = [o for o in out if isinstance(o, (StopPlayback, SendEvent))]
    assert isinstance(actions[0], StopPlayback)
    assert isinstance(actions[1], SendEvent)
    assert isinstance(actions[1].event, ev.ResponseCancel)
    assert actions[1].event.response_id == "r1"
    assert isinstance(actions[2], SendEvent)
    assert isinstance(actions[2].event, ev.ConversationItemTruncate)
    assert s.state is State.CANCELLING


def test_truncate_ms_equals_played_audio() -> None:
    """audio_end_ms is what the output played, not what was received."""
    s = _speaking(chunks=10)  # 1000 ms received
    s.playback_progress(RATE * 437 // 1000, 0.5)  # 437 ms played
    _barge(s, 0.5)
    truncate = next(e for e in _sends(s.outputs()) if isinstance(e, ev.ConversationItemTruncate))
    assert truncate.item_id == "i1"
    assert truncate.content_index == 0
    assert truncate.audio_end_ms == 437


def test_truncate_is_clamped_to_received_audio() -> None:
    """Even if every received sample was played, the truncate never passes the end."""
    s = _speaking(chunks=2)  # 200 ms received, response still active
    s.playback_progress(RATE, 0.5)  # the output over-reports: clamped to 200 ms
    _barge(s, 0.5)
    truncate = next(e for e in _sends(s.outputs()) if isinstance(e, ev.ConversationItemTruncate))
    assert truncate.audio_end_ms == 200


def test_no_truncate_when_playback_finished_and_no_cancel_when_done() -> None:
    """A response done upstream and fully played: neither cancel nor truncate is sent."""
    s = _speaking(chunks=2)
    s.receive(_done(), 0.2)
    s.outputs()
    s.tracker.update(4800)  # all played, but drain not yet noticed by the I/O layer
    _barge(s, 0.5)
    out = s.outputs()
    assert _sends(out) == []
    interrupted = next(o for o in out if isinstance(o, Interrupted))
    assert interrupted.truncate_ms is None
    assert not interrupted.cancel_sent
    assert s.state is State.LISTENING


def test_done_response_still_playing_truncates_without_cancel() -> None:
    """Audio all received (response done) but still playing: truncate only."""
    s = _speaking(chunks=5)
    s.receive(_done(), 0.2)
    s.playback_progress(2400, 0.3)
    _barge(s, 0.3)
    sends = _sends(s.outputs())
    assert [type(e) for e in sends] == [ev.ConversationItemTruncate, ev.ConversationItemCreate]
    assert s.state is State.LISTENING


def test_late_deltas_are_dropped() -> None:
    """Deltas of a cancelled response arriving after the cancel are never played."""
    s = _speaking()
    s.user_speech(0.3)
    s.outputs()
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1", delta=CHUNK), 0.31)
    s.receive(_done(status="cancelled"), 0.35)
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1", delta=CHUNK), 0.36)
    out = s.outputs()
    assert not any(isinstance(o, PlayAudio) for o in out)
    assert s.stats.late_deltas_dropped == 2
    assert s.state is State.LISTENING


def test_response_done_ends_cancelling_with_latency_marks() -> None:
    """response.done of the cancelled response confirms, with every mark stamped."""
    s = _speaking()
    s.playback_progress(2400, 0.30)
    s.user_speech(0.31, onset=0.25)
    out = s.outputs()
    s.playback_stopped(0.311, 2400)
    for e in out + s.outputs():
        if isinstance(e, SendEvent):
            s.event_sent(e.event, 0.312)
    s.receive(_done(status="cancelled"), 0.40)
    interrupted = next(o for o in s.outputs() if isinstance(o, Interrupted))
    lat = interrupted.latency
    assert lat.stop_ms == pytest.approx(61.0)
    assert lat.detect_to_cancel_ms == pytest.approx(2.0)
    assert lat.cancel_to_ack_ms == pytest.approx(88.0)
    assert interrupted.heard_ms == pytest.approx(100.0)
    assert interrupted.received_ms == pytest.approx(500.0)
    assert s.state is State.LISTENING


def test_cancel_timeout_returns_to_listening() -> None:
    """No confirmation within cancel_timeout: listening again, marked timed out."""
    s = ClientSession(cancel_timeout=1.5)
    s.open(0.0)
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1", delta=CHUNK), 0.1)
    _barge(s, 1.0)
    s.outputs()
    assert s.next_deadline() == pytest.approx(2.5)
    s.tick(2.0)
    assert s.state is State.CANCELLING
    s.tick(2.5)
    assert s.state is State.LISTENING
    interrupted = next(o for o in s.outputs() if isinstance(o, Interrupted))
    assert interrupted.timed_out


def test_cancel_not_active_is_benign_and_unsticks() -> None:
    """response_cancel_not_active is logged as benign and ends cancelling."""
    s = _speaking()
    s.user_speech(0.3)
    cancel = next(e for e in _sends(s.outputs()) if isinstance(e, ev.ResponseCancel))
    s.receive(ev.ServerError(error=ev.ErrorInfo(
        type="invalid_request_error", code="response_cancel_not_active",
        message="Cancellation failed: no active response found", event_id=cancel.event_id)), 0.4)
    out = s.outputs()
    error = next(o for o in out if isinstance(o, ErrorOccurred))
    assert error.benign
    assert not error.fatal
    assert s.state is State.LISTENING
    assert s.stats.benign_errors == 1


def test_truncate_overshoot_error_is_benign() -> None:
    """A truncate past the end is a benign race, and the next response still plays."""
    s = _speaking()
    s.user_speech(0.3)
    s.receive(_done(status="cancelled"), 0.35)
    s.receive(ev.ServerError(error=ev.ErrorInfo(
        type="invalid_request_error", code="invalid_value",
        message="Audio content of 300ms is already shorter than 400ms")), 0.36)
    assert next(o for o in s.outputs() if isinstance(o, ErrorOccurred)).benign
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r2")), 0.5)
    s.receive(ev.ResponseOutputAudioDelta(response_id="r2", item_id="i2", delta=CHUNK), 0.5)
    assert any(isinstance(o, PlayAudio) for o in s.outputs())
    assert s.state is State.SPEAKING


def test_local_and_server_detection_cancel_once() -> None:
    """Local detection first, then server speech_started: exactly one cancel."""
    s = _speaking()
    s.user_speech(0.3, source="local")
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=200, item_id="u1"), 0.5)
    sends = _sends(s.outputs())
    assert sum(isinstance(e, ev.ResponseCancel) for e in sends) == 1
    assert s.stats.interruptions == 1


def test_server_vad_barges_in_when_local_misses() -> None:
    """speech_started while speaking is a barge-in with source server_vad."""
    s = _speaking()
    s.audio_sent(2400, 10.0)
    s.audio_sent(2400, 10.1)
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=150, item_id="u1"), 10.5)
    s.receive(_done(status="cancelled"), 10.6)
    interrupted = next(o for o in s.outputs() if isinstance(o, Interrupted))
    assert interrupted.source == "server_vad"
    assert interrupted.latency.onset == pytest.approx(10.15)


def test_a_transcript_is_told_when_its_audio_was_captured() -> None:
    """The server VAD's audio_start_ms / audio_end_ms for an item, mapped back to capture
    time, travel with that item's transcript (the echo filters judge that span's audio)."""
    s = ClientSession()
    s.open(0.0)
    for i in range(20):
        s.audio_sent(2400, 10.0 + i * 0.1)
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=250, item_id="u1"), 10.5)
    s.receive(ev.InputAudioBufferSpeechStopped(audio_end_ms=900, item_id="u1"), 11.2)
    s.receive(ev.InputAudioTranscriptionCompleted(item_id="u1", content_index=0,
                                                  transcript="yes"), 11.5)
    s.receive(ev.InputAudioTranscriptionCompleted(item_id="u2", content_index=0,
                                                  transcript="typed"), 11.6)
    first, second = [o for o in s.outputs() if isinstance(o, UserTranscript)]
    assert first.speech_started_at == pytest.approx(10.25)
    assert first.speech_ended_at == pytest.approx(10.9)
    assert second.speech_started_at is None and second.speech_ended_at is None


def test_an_echo_item_is_deleted_and_its_unplayed_reply_cancelled() -> None:
    """The transcript filters judged user item u1 echo: it is deleted upstream, and the reply
    the server created after committing it is cancelled, whether it was created before the
    verdict (r1) or after it (r2, when the transcript came first)."""
    s = ClientSession()
    s.open(0.0)
    s.outputs()
    s.receive(ev.InputAudioBufferCommitted(item_id="u1"), 1.0)
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r1")), 1.1)
    s.echo_item("u1", 1.5)
    delete, cancel = _sends(s.outputs())
    assert isinstance(delete, ev.ConversationItemDelete) and delete.item_id == "u1"
    assert isinstance(cancel, ev.ResponseCancel) and cancel.response_id == "r1"

    s.receive(ev.InputAudioBufferCommitted(item_id="u2"), 2.0)
    s.echo_item("u2", 2.1)
    assert [e.TYPE for e in _sends(s.outputs())] == ["conversation.item.delete"]
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r2")), 2.2)
    (cancel,) = _sends(s.outputs())
    assert isinstance(cancel, ev.ResponseCancel) and cancel.response_id == "r2"
    assert (s.stats.echo_items_deleted, s.stats.echo_replies_cancelled) == (2, 2)


def test_a_reply_the_app_asks_for_later_is_not_taken_for_a_reply_to_echo() -> None:
    """No reply followed the echo item (turn detection without create_response); the app
    asks for one seconds later: it answers nothing of the echo, and is not cancelled."""
    s = ClientSession()
    s.open(0.0)
    s.receive(ev.InputAudioBufferCommitted(item_id="u1"), 1.0)
    s.echo_item("u1", 1.5)
    s.outputs()
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r1")), 4.0)
    assert not _sends(s.outputs())
    assert s.stats.echo_replies_cancelled == 0


def test_a_reply_already_playing_is_not_cut_for_an_echo_item() -> None:
    s = ClientSession()
    s.open(0.0)
    s.receive(ev.InputAudioBufferCommitted(item_id="u1"), 1.0)
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r1")), 1.1)
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="a1", delta=CHUNK), 1.2)
    s.outputs()
    s.echo_item("u1", 1.5)
    assert [e.TYPE for e in _sends(s.outputs())] == ["conversation.item.delete"]
    assert s.state is State.SPEAKING


def test_speech_while_listening_is_reported_not_cancelled() -> None:
    """User speech with no assistant audio playing is not an interruption."""
    s = ClientSession()
    s.open(0.0)
    s.outputs()
    s.user_speech(1.0)
    out = s.outputs()
    assert [type(o) for o in out] == [UserSpeechStarted]
    assert s.state is State.LISTENING


def test_playback_drains_to_listening() -> None:
    """Response done and all audio played: speaking -> listening at the drain deadline."""
    s = _speaking(chunks=3, progress_interval=None)
    s.receive(_done(), 0.1)
    s.playback_progress(2400, 0.2)
    assert s.state is State.SPEAKING
    deadline = s.next_deadline()
    assert deadline == pytest.approx(0.2 + 0.2)
    s.playback_progress(7200, 0.4)
    s.tick(0.4)
    assert s.state is State.LISTENING


def test_underrun_mid_response_keeps_speaking() -> None:
    """Queue empty but response still active: keep speaking, wait for more audio."""
    s = _speaking(chunks=1, progress_interval=None)
    s.playback_progress(2400, 0.2)
    assert s.state is State.SPEAKING
    assert s.next_deadline() is None


def test_close_from_any_state_goes_idle() -> None:
    """Closing ends a pending interruption and returns to idle."""
    s = _speaking()
    s.user_speech(0.3)
    s.close(0.4)
    out = s.outputs()
    assert s.state is State.IDLE
    assert any(isinstance(o, Interrupted) and o.timed_out for o in out)
    s.close(0.5)
    assert s.state is State.IDLE


def test_audio_after_close_is_dropped_not_raised() -> None:
    """A delta racing the close is dropped; the closed session stays idle."""
    s = _speaking()
    s.close(1.0)
    s.outputs()
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1", delta=CHUNK), 1.1)
    assert s.outputs() == []
    assert s.state is State.IDLE


def test_truncate_includes_the_tail_a_device_still_plays() -> None:
    """clear() on a device returns what will have left the speaker (audio already in the
    driver plays out): the truncate counts it, and new audio is placed after it."""
    s = _speaking(chunks=10)
    s.playback_progress(2400, 0.3)  # 100 ms out of the speaker so far
    s.user_speech(0.3)
    first = s.outputs()
    assert [type(o) for o in first if isinstance(o, (StopPlayback, SendEvent))] == [
        StopPlayback, SendEvent]  # the cancel; the truncate waits for the stop
    s.playback_stopped(0.3, 2400 + 1200)  # 50 ms more were already in the driver
    truncate = next(e for e in _sends(s.outputs()) if isinstance(e, ev.ConversationItemTruncate))
    assert truncate.audio_end_ms == 150
    assert s.tracker.written == 3600


def test_truncate_without_a_stop_report_uses_the_last_position() -> None:
    """An I/O layer that never reports the stop still gets its truncate, at the next input."""
    s = _speaking(chunks=10)
    s.playback_progress(4800, 0.3)
    s.user_speech(0.3)
    assert not any(isinstance(e, ev.ConversationItemTruncate) for e in _sends(s.outputs()))
    s.receive(_done(status="cancelled"), 0.4)
    out = s.outputs()
    truncate = next(e for e in _sends(out) if isinstance(e, ev.ConversationItemTruncate))
    assert truncate.audio_end_ms == 200
    interrupted = next(o for o in out if isinstance(o, Interrupted))
    assert interrupted.truncate_ms == 200


def test_audio_done_asks_the_output_to_play_out() -> None:
    """response.output_audio.done of the playing response emits EndOfAudio; a cancelled
    response's does not."""
    s = _speaking()
    s.receive(ev.ResponseOutputAudioDone(response_id="r1", item_id="i1"), 0.2)
    assert any(isinstance(o, EndOfAudio) for o in s.outputs())
    s2 = _speaking()
    s2.user_speech(0.3)
    s2.receive(ev.ResponseOutputAudioDone(response_id="r1", item_id="i1"), 0.31)
    assert not any(isinstance(o, EndOfAudio) for o in s2.outputs())


def test_playback_position_is_reported_while_speaking() -> None:
    """Every progress_interval while speaking, the heard ms of the playing item is reported."""
    s = _speaking(chunks=10, progress_interval=0.1)
    positions = []
    for step in range(1, 6):
        s.playback_progress(step * 1200, step * 0.05)  # 50 ms per 50 ms: real time
        positions += [o for o in s.outputs() if isinstance(o, PlaybackPosition)]
    assert [p.heard_ms for p in positions] == pytest.approx([50.0, 150.0, 250.0])
    assert all(p.item_id == "i1" and p.received_ms == pytest.approx(1000.0) for p in positions)
    assert s.next_deadline() == pytest.approx(0.35)


def test_model_is_told_it_was_interrupted_right_after_the_cut_item() -> None:
    """After the truncate, a system note goes in right after the truncated item; with
    BargeIn(notify_model=False), none is sent."""
    s = _speaking()
    s.playback_progress(2400, 0.3)
    _barge(s, 0.3)
    sends = _sends(s.outputs())
    assert [type(e) for e in sends] == [
        ev.ResponseCancel, ev.ConversationItemTruncate, ev.ConversationItemCreate]
    note = sends[2]
    assert isinstance(note, ev.ConversationItemCreate)
    assert note.previous_item_id == "i1"
    assert note.item["role"] == "system"
    assert "interrupted" in note.item["content"][0]["text"]
    quiet = ClientSession(barge_in=BargeIn(notify_model=False))
    quiet.open(0.0)
    quiet.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1", delta=CHUNK), 0.1)
    _barge(quiet, 0.2)
    assert not any(isinstance(e, ev.ConversationItemCreate) for e in _sends(quiet.outputs()))


def _cut(false_interruption_s: float = 2.0, min_words: int = 1) -> ClientSession:
    """A session that was interrupted at 0.3 s (speech stops at once: the false-interruption
    judgement is that mode's) and whose cancel was confirmed."""
    s = ClientSession(barge_in=BargeIn(false_interruption_s=false_interruption_s,
                                       min_words=min_words, decide=False),
                      progress_interval=None)
    s.open(0.0)
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r1")), 0.1)
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1", delta=CHUNK), 0.1)
    s.playback_progress(1200, 0.3)
    _barge(s, 0.3)
    s.receive(_done(status="cancelled"), 0.35)
    s.outputs()
    return s


def test_no_words_after_an_interruption_is_a_false_one_and_resumes() -> None:
    """Nothing said within the window: FalseInterruption, and the model is asked to go on."""
    s = _cut()
    assert s.next_deadline() == pytest.approx(2.3)
    s.tick(2.29)
    assert not any(isinstance(o, FalseInterruption) for o in s.outputs())
    s.tick(2.3)
    out = s.outputs()
    false = next(o for o in out if isinstance(o, FalseInterruption))
    assert false.resumed
    assert false.item_id == "i1"
    assert false.heard_ms == pytest.approx(50.0)
    sends = _sends(out)
    assert [type(e) for e in sends] == [ev.ConversationItemCreate, ev.ResponseCreate]
    assert s.stats.false_interruptions == 1


def test_user_words_make_the_interruption_real() -> None:
    """A transcript with words before the deadline: not judged false."""
    s = _cut()
    s.receive(ev.InputAudioTranscriptionCompleted(item_id="u1", transcript="wait, stop"), 1.0)
    s.tick(5.0)
    assert not any(isinstance(o, FalseInterruption) for o in s.outputs())


def test_an_echo_transcript_does_not_make_the_interruption_real() -> None:
    """The words after the interruption were the assistant's own echo (the transcript filters
    said so): the false-interruption judgement goes on, and the reply the server started for
    the echo does not end it either."""
    s = _cut()
    s.receive(ev.InputAudioBufferCommitted(item_id="u1"), 0.8)
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r2")), 0.9)
    s.receive(ev.InputAudioTranscriptionCompleted(item_id="u1", transcript="the forecast"), 1.0)
    assert s.next_deadline() is None  # judged real, for now
    s.echo_item("u1", 1.05)
    assert s.next_deadline() == pytest.approx(2.3)
    s.tick(2.3)
    assert any(isinstance(o, FalseInterruption) for o in s.outputs())


def test_an_empty_transcript_is_not_words() -> None:
    """A transcript shorter than min_words (a cough transcribed as nothing) does not count."""
    s = _cut(min_words=2)
    s.receive(ev.InputAudioTranscriptionCompleted(item_id="u1", transcript="hm"), 1.0)
    s.tick(5.0)
    assert any(isinstance(o, FalseInterruption) for o in s.outputs())


def test_a_new_response_makes_the_interruption_real() -> None:
    """The server starting a new response means the user did say something."""
    s = _cut()
    s.receive(ev.ResponseCreated(response=ev.ResponseInfo(id="r2")), 1.0)
    s.tick(5.0)
    assert not any(isinstance(o, FalseInterruption) for o in s.outputs())


def test_probable_speech_ducks_and_restores() -> None:
    """While speaking, probable speech ducks playback at once; if it was not speech, the
    gain is restored."""
    s = _speaking(barge_in=BargeIn(duck_gain_db=-18.0, duck_ramp_ms=5.0))
    s.speech_probable(0.3, True)
    duck = [o for o in s.outputs() if isinstance(o, DuckPlayback)]
    assert [(d.gain, d.ramp_ms) for d in duck] == [(pytest.approx(0.126, abs=1e-3), 5.0)]
    s.speech_probable(0.32, True)  # idempotent
    assert s.outputs() == []
    s.speech_probable(0.34, False)
    assert [o.gain for o in s.outputs() if isinstance(o, DuckPlayback)] == [1.0]
    assert s.stats.ducks_restored == 1
    assert s.stats.restored_duck_s == pytest.approx(0.04)


def test_duck_then_confirm_marks_the_duck_time() -> None:
    """A confirmed barge-in after a duck carries the duck time in its latency."""
    s = _speaking(barge_in=BargeIn(duck_gain_db=-18.0, decide=False))
    s.speech_probable(0.30, True)
    _barge(s, 0.42, onset=0.28)
    s.receive(_done(status="cancelled"), 0.45)
    interrupted = next(o for o in s.outputs() if isinstance(o, Interrupted))
    assert interrupted.latency.duck_ms == pytest.approx(20.0)
    assert interrupted.latency.stop_ms == pytest.approx(140.0)


def test_no_ducking_without_a_duck_gain() -> None:
    """With duck_gain_db None (plain stop-on-confirm mode) nothing ducks."""
    s = _speaking(barge_in=BargeIn(duck_gain_db=None))
    s.speech_probable(0.3, True)
    assert not any(isinstance(o, DuckPlayback) for o in s.outputs())


def test_resume_racing_a_new_reply_is_benign() -> None:
    """If the server had already started a reply, the resume's response.create error is
    benign."""
    s = _cut()
    s.tick(2.3)
    resume = next(e for e in _sends(s.outputs()) if isinstance(e, ev.ResponseCreate))
    s.receive(ev.ServerError(error=ev.ErrorInfo(
        type="invalid_request_error", code="conversation_already_has_active_response",
        message="Conversation already has an active response", event_id=resume.event_id)), 2.4)
    error = next(o for o in s.outputs() if isinstance(o, ErrorOccurred))
    assert error.benign


def test_server_vad_needs_the_local_detector_to_agree() -> None:
    """With a local detector running, a server speech_started while the AI speaks stops it
    only if the detector heard probable speech recently (else it was the AI's own echo)."""
    s = _speaking()
    s.speech_probable(0.2, False)  # a local detector is running and hears nobody
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=100, item_id="u1"), 0.5)
    assert s.state is State.SPEAKING
    assert s.stats.server_vad_ignored == 1
    s.speech_probable(0.6, True)
    s.speech_probable(0.7, False)
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=500, item_id="u2"), 0.9)
    assert s.state is State.CANCELLING


def test_with_a_local_detector_the_server_does_not_interrupt_on_its_own() -> None:
    """With barge-in settings (a local detector), the session turns the server's
    interrupt_response off when the app left turn detection unset, and respects an explicit
    setting."""
    from realtalk import SessionConfig, TurnDetection

    s = ClientSession(barge_in=BargeIn())
    assert isinstance(s.config.turn_detection, TurnDetection)
    assert s.config.turn_detection.interrupt_response is False
    mine = SessionConfig(turn_detection=TurnDetection(interrupt_response=True))
    assert ClientSession(mine, barge_in=BargeIn(decide=False)).config.turn_detection == \
        TurnDetection(interrupt_response=True)
    # Deciding owns the turns: the server neither stops nor answers on its own.
    assert ClientSession(mine, barge_in=BargeIn(decide=True)).config.turn_detection == \
        TurnDetection(interrupt_response=False, create_response=False)
    assert ClientSession(barge_in=None).config.turn_detection is None


def test_server_events_the_core_does_not_use_pass_through() -> None:
    """Typed events the core has no use for, and unknown ones, reach the app untouched."""
    s = ClientSession()
    s.open(0.0)
    s.outputs()
    passed: list[ev.ServerEvent] = [
        ev.ResponseOutputTextDelta(response_id="r", item_id="i", delta="hi"),
        ev.RateLimitsUpdated(rate_limits=({"name": "tokens", "remaining": 9},)),
        ev.UnknownServerEvent(type="response.hologram.delta", payload={"type": "x"}),
    ]
    for event in passed:
        s.receive(event, 0.1)
    others = [o for o in s.outputs() if isinstance(o, OtherServerEvent)]
    assert [o.event for o in others] == passed


def test_no_resume_after_a_false_interruption_when_the_settings_say_so() -> None:
    """BargeIn(resume_after_false=False): the false interruption is only reported."""
    s = ClientSession(barge_in=BargeIn(false_interruption_s=2.0, resume_after_false=False,
                                       decide=False))
    s.open(0.0)
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1", delta=CHUNK), 0.1)
    s.playback_progress(1200, 0.3)
    _barge(s, 0.3)
    s.receive(_done(status="cancelled"), 0.35)
    s.outputs()
    s.tick(2.3)
    out = s.outputs()
    assert [o.resumed for o in out if isinstance(o, FalseInterruption)] == [False]
    assert _sends(out) == []


@pytest.mark.parametrize(("barge_in", "stops"), [
    (None, True),  # no local detector: the server's VAD is the barge-in
    (BargeIn(), False),
    (BargeIn(use_server_vad=True), True),
])
def test_server_vad_barge_in_follows_the_settings(barge_in: BargeIn | None, stops: bool) -> None:
    """The server's speech_started stops the assistant without a local detector, and with
    one only if BargeIn.use_server_vad."""
    s = _speaking(barge_in=barge_in)
    s.receive(ev.InputAudioBufferSpeechStarted(audio_start_ms=100, item_id="u1"), 0.5)
    assert (s.state is State.CANCELLING) is stops


def test_the_interruption_note_text_is_the_sessions() -> None:
    """ClientSession(interruption_note=...) is the note's text; BargeIn.notify_model says
    whether."""
    s = ClientSession(interruption_note="You were cut off.")
    s.open(0.0)
    s.receive(ev.ResponseOutputAudioDelta(response_id="r1", item_id="i1", delta=CHUNK), 0.1)
    _barge(s, 0.2)
    note = next(e for e in _sends(s.outputs()) if isinstance(e, ev.ConversationItemCreate))
    assert note.item["content"][0]["text"] == "You were cut off."


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"barge_in": {"min_speech_ms": 80}}, "barge_in"),
    ({"interruption_note": None}, "interruption_note"),
])
def test_bad_session_arguments_are_named(kwargs: dict[str, object], argument: str) -> None:
    """A settings dict for barge_in, or None for the note (notify_model turns it off), is a
    ConfigurationError naming the argument."""
    with pytest.raises(ConfigurationError, match=argument) as caught:
        ClientSession(**kwargs)  # type: ignore[arg-type]
    assert caught.value.argument == argument
