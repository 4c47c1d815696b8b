"""A scripted user: what to say, and when, including talking over the assistant."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ("Utterance", "ScriptedUser")


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

    def due(self, now: float) -> list[Utterance]:
        """The utterances whose time has come (each is returned once)."""
        ready: list[Utterance] = []
        for u in list(self._pending):
            if u.at is not None:
                start: float | None = u.at
            elif len(self._assistant_starts) >= u.response_number:
                start = self._assistant_starts[u.response_number - 1] + (
                    u.after_assistant_starts or 0.0)
            else:
                start = None
            if start is not None and start <= now:
                ready.append(u)
                self._pending.remove(u)
        return ready

    @property
    def finished(self) -> bool:
        """Whether every utterance has started."""
        return not self._pending
