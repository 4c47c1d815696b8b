"""Tests for realtalk.server.usage: token estimates at the hosted service's rates."""

from __future__ import annotations

from realtalk.server.items import ContentPart, Item
from realtalk.server.usage import (
    TokenCount,
    audio_tokens,
    output_tokens,
    prompt_tokens,
    response_usage,
    text_tokens,
    transcription_usage,
)


def test_rates() -> None:
    """Text is about four characters a token; user audio 100 ms, assistant audio 50 ms."""
    assert [text_tokens(t) for t in ("", "  ", "abcd", "abcde")] == [0, 0, 1, 2]
    assert audio_tokens(1000, assistant=False) == 10
    assert audio_tokens(1000, assistant=True) == 20
    assert audio_tokens(1, assistant=True) == 1
    assert audio_tokens(-5, assistant=False) == 0


def test_items_count_their_parts() -> None:
    """Audio parts count as audio by who spoke; text parts and function items as text."""
    user = Item(id="u", role="user", parts=[ContentPart("input_audio")],
                audio=bytearray(48 * 1000))
    assistant = Item(id="a", role="assistant", parts=[ContentPart("output_text", text="abcdefgh")])
    call = Item(id="f", type="function_call", fields={"name": "weather", "arguments": "{}"})
    assert TokenCount.of_item(user) == TokenCount(audio=10)
    assert TokenCount.of_item(assistant) == TokenCount(text=2)
    assert TokenCount.of_item(call) == TokenCount(text=3)  # "weather {}"
    assert prompt_tokens("abcd", [user, assistant]) == TokenCount(text=3, audio=10)


def test_function_items_count_what_the_model_reads_not_their_ids() -> None:
    """A call is its name and arguments, an output its text; call ids are not tokens."""
    call = Item(id="f", type="function_call", fields={
        "name": "get_weather", "call_id": "call_" + "x" * 40, "arguments": '{"city": "Paris"}'})
    output = Item(id="o", type="function_call_output", fields={
        "call_id": "call_" + "x" * 40, "output": "sunny"})
    assert TokenCount.of_item(call) == TokenCount(text=8)  # 29 characters
    assert TokenCount.of_item(output) == TokenCount(text=2)
    assert prompt_tokens("", [call, output]) == TokenCount(text=10)


def test_output_tokens_of_a_response_item() -> None:
    """A spoken reply spends its words as text and its audio; a call its name and arguments."""
    spoken = Item(id="a", role="assistant", parts=[ContentPart("output_audio", transcript="hi!")],
                  audio=bytearray(48 * 1000))
    call = Item(id="f", type="function_call", fields={"name": "f", "arguments": "{}"})
    assert output_tokens(spoken) == TokenCount(text=1, audio=20)
    assert output_tokens(call) == TokenCount(text=1)


def test_response_usage_in_each_shape() -> None:
    """Totals add up; GA adds image and cached-token details that beta does not have."""
    ga = response_usage(TokenCount(text=5, audio=10), TokenCount(text=2, audio=40), "ga")
    assert (ga.input_tokens, ga.output_tokens, ga.total_tokens) == (15, 42, 57)
    assert ga.output_token_details == {"text_tokens": 2, "audio_tokens": 40}
    assert ga.input_token_details is not None
    assert ga.input_token_details["cached_tokens_details"]["audio_tokens"] == 0
    beta = response_usage(TokenCount(text=5, audio=10), TokenCount(text=2, audio=40), "beta")
    assert beta.input_token_details == {"text_tokens": 5, "audio_tokens": 10, "cached_tokens": 0}


def test_transcription_usage() -> None:
    """A transcription reads the audio and writes the transcript."""
    assert transcription_usage(2500, "hello there") == {
        "type": "tokens", "input_tokens": 25, "output_tokens": 3, "total_tokens": 28,
        "input_token_details": {"text_tokens": 0, "audio_tokens": 25}}
