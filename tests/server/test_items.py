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
