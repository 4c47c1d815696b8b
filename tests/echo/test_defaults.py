"""The default echo filter and what an ``echo=`` option names."""

from __future__ import annotations

import numpy as np
import pytest

from realtalk.audio import AudioFrame
from realtalk.echo import EchoCanceller, EchoFilterChain, EchoResult, default, resolve
from realtalk.errors import ConfigurationError
from realtalk.testing import RecordingEchoFilter

RATE = 16_000


def test_the_default_chain_is_the_canceller_with_its_suppressor() -> None:
    chain = default(RATE)
    assert isinstance(chain, EchoFilterChain)
    (canceller,) = chain.filters
    assert isinstance(canceller, EchoCanceller)
    assert canceller.sample_rate == RATE
    assert canceller.suppressor is not None
    frame = AudioFrame(np.ones(320, np.int16), RATE, reference=np.zeros(320, np.int16))
    result = chain.process(frame)
    assert isinstance(result, EchoResult)
    assert len(result.frame.samples) == 320


def test_the_default_rate_is_the_protocols() -> None:
    (canceller,) = default().filters
    assert isinstance(canceller, EchoCanceller)
    assert canceller.sample_rate == 24_000


def test_resolve_names_the_default_a_filter_or_none() -> None:
    own = RecordingEchoFilter()
    assert resolve(own, RATE) is own
    assert resolve(None, RATE) is None
    resolved = resolve("default", RATE)
    assert isinstance(resolved, EchoFilterChain)
    (canceller,) = resolved.filters
    assert isinstance(canceller, EchoCanceller) and canceller.sample_rate == RATE
    assert resolve("default", RATE) is not resolved  # a fresh chain each time: state is its own


@pytest.mark.parametrize("option", ["loud", "Default", ""])
def test_an_unknown_name_is_refused_and_named(option: str) -> None:
    with pytest.raises(ConfigurationError,
                       match=rf"echo must be an EchoFilter, 'default' or None, got {option!r}"):
        resolve(option, RATE)  # type: ignore[arg-type]
