"""Tests for realtalk.server.items: conversation items and their wire form."""

from __future__ import annotations

import pytest

from realtalk.server.items import (
    ContentPart,
    ConversationItems,
    Item,
    RequestError,
    item_from_client,
    render_item,
)
from realtalk.server.responder import ConversationTurn


def _assistant(item_id: str = "item_a") -> Item:
    return Item(id=item_id, role="assistant",
                parts=[ContentPart("output_audio", transcript="hello")], audio=bytearray(96))


def test_render_uses_the_shape_part_names() -> None:
    """Assistant audio parts are output_audio in GA and audio in beta."""
    item = _assistant()
    assert render_item(item, "ga")["content"] == [{"type": "output_audio", "transcript": "hello"}]
    assert render_item(item, "beta")["content"] == [{"type": "audio", "transcript": "hello"}]
    with_audio = render_item(item, "ga", with_audio=True)
    assert with_audio["content"][0]["audio"] == "A" * 128
    assert render_item(item, "ga")["object"] == "realtime.item"


def test_client_items_accept_beta_part_names() -> None:
    """A beta 'text' part on an assistant item is stored as output_text."""
    item = item_from_client({"type": "message", "role": "assistant",
                             "content": [{"type": "text", "text": "hi"}]}, "item_new")
    assert item.id == "item_new"
    assert item.parts == [ContentPart("output_text", text="hi")]
    assert not item.is_assistant_audio()


def test_function_items_keep_their_fields() -> None:
    """function_call_output items keep call_id and output."""
    item = item_from_client({"type": "function_call_output", "call_id": "c1", "output": "{}"},
                            "item_f")
    assert render_item(item, "ga")["call_id"] == "c1"
    assert render_item(item, "ga")["output"] == "{}"


def test_bad_client_item_names_the_field() -> None:
    """A bad content list is an RequestError with the field's path."""
    with pytest.raises(RequestError) as info:
        item_from_client({"type": "message", "role": "user", "content": "hi"}, "item_x")
    assert info.value.param == "item.content"


def test_conversation_order_and_turns() -> None:
    """Items insert at the end, after an id, or at the root; turns give role and text."""
    conversation = ConversationItems()
    assert conversation.insert(_assistant("item_1")) is None
    user = item_from_client({"type": "message", "role": "user",
                             "content": [{"type": "input_text", "text": "yo"}]}, "item_2")
    assert conversation.insert(user, after="root") is None
    assert [i.id for i in conversation] == ["item_2", "item_1"]
    assert conversation.previous_id("item_1") == "item_2"
    assert conversation.turns() == [ConversationTurn("user", "yo"),
                                    ConversationTurn("assistant", "hello")]
    with pytest.raises(KeyError):
        conversation.insert(_assistant("item_3"), after="item_missing")
    assert conversation.delete("item_1")
    assert not conversation.delete("item_1")


def _function_items() -> ConversationItems:
    items = ConversationItems()
    items.insert(Item(id="u", role="user", parts=[ContentPart("input_text", text="weather?")]))
    items.insert(Item(id="c1", type="function_call",
                      fields={"name": "weather", "call_id": "call_1", "arguments": "{}"}))
    items.insert(Item(id="c2", type="function_call",
                      fields={"name": "time", "call_id": "call_2", "arguments": "{}"}))
    items.insert(Item(id="o2", type="function_call_output",
                      fields={"call_id": "call_2", "output": "noon"}))
    items.insert(Item(id="o1", type="function_call_output",
                      fields={"call_id": "call_1", "output": "rain"}))
    return items


def test_function_call_is_found_by_its_call_id() -> None:
    """function_call() finds a call by call_id, never an output with the same call_id."""
    items = _function_items()
    call = items.function_call("call_2")
    assert call is not None and call.id == "c2"
    assert items.function_call("call_3") is None


def test_latest_request_says_whether_a_call_answered_it() -> None:
    """The latest user message's text, and whether a function call came after it."""
    items = _function_items()
    assert items.latest_request() == ("weather?", True)
    items.insert(Item(id="u2", role="user", parts=[ContentPart("input_text", text="thanks")]))
    assert items.latest_request() == ("thanks", False)
    assert ConversationItems().latest_request() == ("", False)


def test_outputs_to_speak_are_those_since_the_last_message() -> None:
    """Outputs after the last message, in conversation order, named by their calls; none once
    a message follows them."""
    items = _function_items()
    assert items.outputs_to_speak() == [("time", "noon"), ("weather", "rain")]
    items.delete("c1")  # an output whose call is gone is still spoken, by a generic name
    assert items.outputs_to_speak() == [("time", "noon"), ("function", "rain")]
    items.insert(Item(id="a", role="assistant", parts=[ContentPart("output_text", text="ok")]))
    assert items.outputs_to_speak() == []
