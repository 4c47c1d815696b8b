"""A scripted user: what to say, and when, including talking over the assistant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ("Utterance", "ScriptedUser")


class Timed(Protocol):
    """Something scripted to happen either at a time or relative to the assistant's speech
    (an :class:`Utterance`, a :class:`~realtalk.sim.PathChange`)."""

    @property
    def at(self) -> float | None: ...

    @property
    def after_assistant_starts(self) -> float | None: ...

    @property
    def response_number(self) -> int: ...


def start_time(item: Timed, assistant_starts: Sequence[float]) -> float | None:
    """When ``item`` happens, given when the assistant started each response so far;
    ``None`` while that cannot be known yet (its response has not started)."""
    if item.at is not None:
        return item.at
    if len(assistant_starts) >= item.response_number:
        return assistant_starts[item.response_number - 1] + (item.after_assistant_starts or 0.0)
    return None


def _readonly(value: npt.ArrayLike) -> npt.NDArray[np.int16]:
    arr = np.asarray(value, dtype=np.int16).view()
    arr.flags.writeable = False
    return arr


@attrs.frozen(kw_only=True, eq=False)
class Utterance:
    """One thing the user says.

    Exactly one trigger applies:

    - ``at``: seconds from the start of the simulation;
    - ``after_assistant_starts``: seconds after the assistant starts speaking its
      ``response_number``-th response (1-based): a barge-in when it lands mid-speech.

    Attributes:
        samples: the speech, PCM16 mono at the room's rate.
        text: what is said (what a transcriber should hear; for reports).
    """

    samples: npt.NDArray[np.int16] = attrs.field(converter=_readonly)
    text: str = ""
    at: float | None = None
    after_assistant_starts: float | None = None
    response_number: int = 1

    def __attrs_post_init__(self) -> None:
        if (self.at is None) == (self.after_assistant_starts is None):
            raise ValueError("give exactly one of at= or after_assistant_starts=")

    @property
    def is_barge_in(self) -> bool:
        """Whether this utterance is timed against the assistant's speech."""
        return self.after_assistant_starts is not None


class ScriptedUser:
    """Decides, as simulated time passes, which utterances start now."""

    def __init__(self, utterances: Sequence[Utterance]) -> None:
        self.utterances = tuple(utterances)
        self._pending = list(self.utterances)
        self._assistant_starts: list[float] = []

    def assistant_started(self, at: float) -> None:
        """The assistant started speaking a response at ``at`` (seconds)."""
        self._assistant_starts.append(at)

    @property
    def assistant_starts(self) -> tuple[float, ...]:
        """When the assistant started each response so far (seconds)."""
        return tuple(self._assistant_starts)

    def due(self, now: float) -> list[Utterance]:
        """The utterances whose time has come (each is returned once)."""
        ready: list[Utterance] = []
        for u in list(self._pending):
            start = start_time(u, self._assistant_starts)
            if start is not None and start <= now:
                ready.append(u)
                self._pending.remove(u)
        return ready

    @property
    def finished(self) -> bool:
        """Whether every utterance has started."""
        return not self._pending
