"""Token counts the embedded server reports, estimated the way the hosted service bills.

The server has no tokenizer, so counts are estimates with the hosted service's rates: text at
about four characters per token, user audio at one token per 100 ms and assistant audio at one
token per 50 ms. They are plausible, and they grow with what was said and heard, which is what
a client that meters usage needs to see; they are not exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import attrs

from ..session_config import WireShape
from ..wire import ResponseUsage
from .items import Item

__all__ = ("TokenCount", "audio_tokens", "output_tokens", "prompt_tokens", "response_usage",
           "text_tokens", "transcription_usage")

_CHARS_PER_TOKEN = 4
_USER_AUDIO_MS_PER_TOKEN = 100
_ASSISTANT_AUDIO_MS_PER_TOKEN = 50


def text_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (0 for empty text)."""
    return math.ceil(len(text.strip()) / _CHARS_PER_TOKEN)


def audio_tokens(ms: float, *, assistant: bool) -> int:
    """Tokens of ``ms`` milliseconds of audio, user (input) or assistant (output) audio."""
    per_token = _ASSISTANT_AUDIO_MS_PER_TOKEN if assistant else _USER_AUDIO_MS_PER_TOKEN
    return math.ceil(max(ms, 0.0) / per_token)


@attrs.frozen
class TokenCount:
    """Text and audio tokens of one stretch of content."""

    text: int = 0
    audio: int = 0

    @property
    def total(self) -> int:
        """Text plus audio tokens."""
        return self.text + self.audio

    def __add__(self, other: TokenCount) -> TokenCount:
        return TokenCount(self.text + other.text, self.audio + other.audio)

    @classmethod
    def of_item(cls, item: Item) -> TokenCount:
        """The tokens an item adds to the model's context: a function call counts as the text
        of its name and arguments, an output as its text (ids are not read by the model)."""
        if item.type != "message":
            return cls(text=text_tokens(_function_text(item)))
        count = cls()
        for part in item.parts:
            if part.type.endswith("audio"):
                count += cls(audio=audio_tokens(item.audio_ms, assistant=item.role == "assistant"))
            else:
                count += cls(text=text_tokens(part.text or ""))
        return count


def _function_text(item: Item) -> str:
    if item.type == "function_call":
        return f"{item.fields.get('name', '')} {item.fields.get('arguments', '')}"
    return str(item.fields.get("output", ""))


def output_tokens(item: Item) -> TokenCount:
    """The tokens a response spent producing ``item``: for a message its words as text and its
    audio (both are generated), for a function call its name and arguments."""
    if item.type != "message":
        return TokenCount.of_item(item)
    return TokenCount(text=text_tokens(item.text()),
                      audio=audio_tokens(item.audio_ms, assistant=True))


def prompt_tokens(instructions: str, context: Iterable[Item]) -> TokenCount:
    """The tokens a model reads for a response: the instructions and the conversation."""
    prompt = TokenCount(text=text_tokens(instructions))
    for item in context:
        prompt += TokenCount.of_item(item)
    return prompt


def response_usage(prompt: TokenCount, output: TokenCount, shape: WireShape) -> ResponseUsage:
    """The ``usage`` of a response that read ``prompt`` and produced ``output``, with the
    token details of ``shape``. Nothing is reported as cached: the server keeps no prompt
    cache."""
    input_details: dict[str, Any] = {"text_tokens": prompt.text, "audio_tokens": prompt.audio,
                                     "cached_tokens": 0}
    if shape == "ga":  # GA also counts images, and splits the cached tokens by kind
        input_details["image_tokens"] = 0
        input_details["cached_tokens_details"] = {"text_tokens": 0, "audio_tokens": 0,
                                                  "image_tokens": 0}
    return ResponseUsage(
        total_tokens=prompt.total + output.total,
        input_tokens=prompt.total,
        output_tokens=output.total,
        input_token_details=input_details,
        output_token_details={"text_tokens": output.text, "audio_tokens": output.audio},
    )


def transcription_usage(audio_ms: float, transcript: str) -> dict[str, Any]:
    """The ``usage`` of an input transcription, in the token form of the GPT-4o transcribers."""
    heard = audio_tokens(audio_ms, assistant=False)
    written = text_tokens(transcript)
    return {
        "type": "tokens",
        "input_tokens": heard,
        "output_tokens": written,
        "total_tokens": heard + written,
        "input_token_details": {"text_tokens": 0, "audio_tokens": heard},
    }
