"""The conversation's context: what it keeps, cut to what was heard, bounded, and the
``conversation.item.create`` events that recreate it."""

from __future__ import annotations

from typing import Any

import pytest

from realtalk import wire as ev
from realtalk.session.context import ContextItem, ConversationContext

CHUNK = b"\x01\x00" * 2400  # 100 ms of PCM16 at 24 kHz


def _reply(ctx: ConversationContext, words: list[str], *, rid: str = "r1", iid: str = "a1",
           done: bool = True) -> None:
    """A spoken reply: per word, 100 ms of audio then the word's transcript delta."""
    ctx.server_event(ev.ResponseCreated(response=ev.ResponseInfo(id=rid)))
    ctx.server_event(ev.ResponseOutputItemAdded(response_id=rid, item={
        "id": iid, "type": "message", "role": "assistant"}))
    for n, word in enumerate(words):
        ctx.server_event(ev.ResponseOutputAudioDelta(response_id=rid, item_id=iid, delta=CHUNK))
        ctx.server_event(ev.ResponseOutputAudioTranscriptDelta(
            response_id=rid, item_id=iid, delta=word if n == 0 else " " + word))
    if done:
        ctx.server_event(ev.ResponseOutputAudioTranscriptDone(
            response_id=rid, item_id=iid, transcript=" ".join(words)))
        ctx.server_event(ev.ResponseDone(response=ev.ResponseInfo(id=rid)))


def _spoken_turn(ctx: ConversationContext, iid: str, text: str,
                 previous: str | None = None) -> None:
    ctx.server_event(ev.InputAudioBufferCommitted(item_id=iid, previous_item_id=previous))
    ctx.server_event(ev.InputAudioTranscriptionCompleted(item_id=iid, transcript=text))


def _call(ctx: ConversationContext, call_id: str, *, rid: str = "rc", arguments: str = "{}",
          complete: bool = True) -> None:
    ctx.server_event(ev.ResponseCreated(response=ev.ResponseInfo(id=rid)))
    ctx.server_event(ev.ResponseOutputItemAdded(response_id=rid, item={
        "id": f"item_{call_id}", "type": "function_call", "call_id": call_id,
        "name": "weather"}))
    if complete:
        ctx.server_event(ev.ResponseFunctionCallArgumentsDone(
            response_id=rid, item_id=f"item_{call_id}", call_id=call_id, arguments=arguments))
        ctx.server_event(ev.ResponseDone(response=ev.ResponseInfo(id=rid)))


def _output(call_id: str, output: str = '{"ok":true}') -> ev.ConversationItemCreate:
    return ev.ConversationItemCreate(item={"type": "function_call_output", "call_id": call_id,
                                           "output": output})


def _items(ctx: ConversationContext) -> list[tuple[str, str]]:
    return [(item.kind, item.text) for item in ctx.items()]


def _created(events: list[ev.ConversationItemCreate]) -> list[dict[str, Any]]:
    assert all(e.previous_item_id is None for e in events)  # appended in order
    return [dict(e.item) for e in events]


def test_turns_are_kept_in_order_and_restored_as_text_items() -> None:
    """A spoken user turn, the app's text and a full reply come back as text items, in
    order; the assistant's as ``output_text`` (GA) or ``text`` (beta)."""
    ctx = ConversationContext()
    _spoken_turn(ctx, "u1", "What's the weather?")
    _reply(ctx, ["It", "is", "sunny."])
    ctx.sent(ev.ConversationItemCreate(item={"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "Thanks"}]}))
    assert _items(ctx) == [("user", "What's the weather?"), ("assistant", "It is sunny."),
                           ("user", "Thanks")]
    assert _created(ctx.restore_events("ga")) == [
        {"type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "What's the weather?"}]},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "It is sunny."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text",
                                                          "text": "Thanks"}]}]
    beta = _created(ctx.restore_events("beta"))
    assert beta[1]["content"] == [{"type": "text", "text": "It is sunny."}]


def test_a_truncated_reply_keeps_what_was_heard_and_the_note_follows_it() -> None:
    """The truncate's position cuts the reply to the words whose audio had arrived by then;
    the interruption note goes right after the cut item, even if sent after a later turn."""
    ctx = ConversationContext()
    _spoken_turn(ctx, "u1", "Tell me a story")
    _reply(ctx, ["Once", "upon", "a", "time"], done=False)
    ctx.sent(ev.ConversationItemTruncate(item_id="a1", audio_end_ms=250))
    _spoken_turn(ctx, "u2", "Stop", previous="a1")
    ctx.sent(ev.ConversationItemCreate(previous_item_id="a1", item={
        "type": "message", "role": "system",
        "content": [{"type": "input_text", "text": "You were interrupted."}]}))
    # The full transcript arrives after the cut: it does not undo it.
    ctx.server_event(ev.ResponseOutputAudioTranscriptDone(
        response_id="r1", item_id="a1", transcript="Once upon a time"))
    assert _items(ctx) == [("user", "Tell me a story"), ("assistant", "Once upon"),
                           ("system", "You were interrupted."), ("user", "Stop")]


def test_a_transcript_in_one_piece_is_cut_in_proportion_at_a_word_boundary() -> None:
    """Without deltas, the share of the audio heard picks the share of the words."""
    ctx = ConversationContext()
    ctx.server_event(ev.ResponseOutputItemAdded(response_id="r1", item={
        "id": "a1", "type": "message", "role": "assistant"}))
    for _ in range(10):
        ctx.server_event(ev.ResponseOutputAudioDelta(response_id="r1", item_id="a1",
                                                     delta=CHUNK))
    ctx.server_event(ev.ResponseOutputAudioTranscriptDone(
        response_id="r1", item_id="a1", transcript="one two three four five"))
    ctx.sent(ev.ConversationItemTruncate(item_id="a1", audio_end_ms=500))
    assert _items(ctx) == [("assistant", "one two")]


def test_a_reply_nothing_of_which_was_heard_is_left_out() -> None:
    ctx = ConversationContext()
    _reply(ctx, ["Hello", "there"])
    ctx.sent(ev.ConversationItemTruncate(item_id="a1", audio_end_ms=0))
    assert ctx.items() == []
    assert ctx.restore_events() == []


def test_a_lost_connection_cuts_the_reply_in_progress_and_unplayed_audio() -> None:
    """At the loss, a reply still generating is cut at what was heard, a finished reply whose
    audio had not all played too; a reply played to its end stays whole."""
    ctx = ConversationContext()
    _reply(ctx, ["First", "reply"], rid="r1", iid="a1")  # played out
    _reply(ctx, ["Second", "reply", "here"], rid="r2", iid="a2")  # done, half played
    _reply(ctx, ["Third", "one"], rid="r3", iid="a3", done=False)  # in progress
    assert ctx.responses_in_progress == ["r3"]
    heard = {("a1", 0): (200.0, 200.0), ("a2", 0): (250.0, 300.0), ("a3", 0): (0.0, 200.0)}
    ctx.connection_lost(lambda key: heard.get(key, (0.0, 0.0)))
    assert _items(ctx) == [("assistant", "First reply"), ("assistant", "Second reply")]
    assert ctx.responses_in_progress == []


def test_calls_are_restored_with_their_outputs_and_only_complete_ones() -> None:
    """A complete call and its output are restored as a pair; a call whose arguments never
    completed is dropped at the loss, and its call id is not on the new session."""
    ctx = ConversationContext()
    _call(ctx, "c1", arguments='{"city":"Oslo"}')
    ctx.sent(_output("c1"))
    _call(ctx, "c2", rid="rc2")  # complete, still running
    _call(ctx, "c3", rid="rc3", complete=False)
    assert ctx.knows_call("c1") and ctx.knows_call("c2") and ctx.knows_call("c3")
    ctx.connection_lost(lambda key: (0.0, 0.0))
    assert not ctx.knows_call("c1")  # the old session is gone
    assert _created(ctx.restore_events()) == [
        {"type": "function_call", "call_id": "c1", "name": "weather",
         "arguments": '{"city":"Oslo"}'},
        {"type": "function_call_output", "call_id": "c1", "output": '{"ok":true}'},
        {"type": "function_call", "call_id": "c2", "name": "weather", "arguments": "{}"}]
    ctx.restored()
    assert ctx.knows_call("c1") and ctx.knows_call("c2") and not ctx.knows_call("c3")


def test_restore_events_are_not_taken_for_new_items_and_restored_items_stay() -> None:
    """Sending the restore does not add the items twice; after it, the context still holds
    them (for the next restore), without their old ids."""
    ctx = ConversationContext()
    _spoken_turn(ctx, "u1", "Hi")
    ctx.connection_lost(lambda key: (0.0, 0.0))
    events = ctx.restore_events()
    for event in events:
        ctx.sent(event)
    ctx.restored()
    assert ctx.items() == [ContextItem(kind="user", text="Hi")]
    _spoken_turn(ctx, "u9", "Again")
    assert [e.event_id for e in ctx.restore_events()] == ["rt_restore_2", "rt_restore_3"]


def test_a_deleted_echo_item_and_an_untranscribed_turn_are_left_out() -> None:
    ctx = ConversationContext()
    _spoken_turn(ctx, "u1", "echo of the assistant")
    ctx.sent(ev.ConversationItemDelete(item_id="u1"))
    ctx.server_event(ev.InputAudioBufferCommitted(item_id="u2"))  # never transcribed
    assert ctx.items() == []


def test_the_bound_drops_the_oldest_and_a_call_with_its_output() -> None:
    ctx = ConversationContext(max_items=3)
    _call(ctx, "c1")
    ctx.sent(_output("c1"))
    _spoken_turn(ctx, "u1", "one")
    assert [i.kind for i in ctx.items()] == ["function_call", "function_call_output", "user"]
    _spoken_turn(ctx, "u2", "two")  # the call goes, and its output with it
    assert _items(ctx) == [("user", "one"), ("user", "two")]
    for n in range(3, 7):
        _spoken_turn(ctx, f"u{n}", str(n))
    assert _items(ctx) == [("user", "4"), ("user", "5"), ("user", "6")]


@pytest.mark.parametrize("bad", [1, 0, True, 2.5])
def test_a_bound_too_small_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_items"):
        ConversationContext(max_items=bad)


def test_calls_that_fall_out_of_the_bound_are_forgotten_by_the_session_too() -> None:
    ctx = ConversationContext(max_items=4)
    for n in range(10):
        _call(ctx, f"c{n}", rid=f"r{n}")
        ctx.sent(_output(f"c{n}"))
    assert [ctx.knows_call(f"c{n}") for n in range(10)] == [False] * 8 + [True] * 2
    assert len(ctx._session_calls) == 2
