"""Echo filters for tests: an audio-level filter that records what it was given, and a
transcript filter that drops exactly the transcripts it is told to."""

from __future__ import annotations

from collections.abc import Callable, Collection

from .._args import bad_argument, check_number, check_type
from ..audio.frame import AudioFrame
from ..echo import EchoResult, TranscriptContext, TranscriptVerdict

__all__ = ("RecordingEchoFilter", "ScriptedTranscriptFilter")


class RecordingEchoFilter:
    """An :class:`~realtalk.echo.EchoFilter` that passes every frame through unchanged and
    records it.

    Args:
        residual_echo: the residual echo estimate it reports for each frame (mean square,
            full scale 1.0), or ``None`` for "cannot tell".
        echo_likeness: the echo likeness it reports for each frame (0 to 1, see
            ``EchoResult.echo_likeness``), or ``None`` for "cannot tell".

    :attr:`frames` holds every frame it processed, with its ``reference`` (what the speaker
    played meanwhile): what an app's own filter would have been given. It can be seeded with
    a delay, as a canceller is (:func:`~realtalk.echo.seed_canceller`): :attr:`seeded_delays`.

    Raises:
        ConfigurationError: ``residual_echo`` is not ``None`` or a number >= 0, or
            ``echo_likeness`` not ``None`` or a number from 0 to 1.
    """

    def __init__(self, residual_echo: float | None = None, *,
                 echo_likeness: float | None = None) -> None:
        check_number("residual_echo", residual_echo, minimum=0.0, optional=True)
        check_number("echo_likeness", echo_likeness, minimum=0.0, maximum=1.0, optional=True)
        self.residual_echo = residual_echo
        self.echo_likeness = echo_likeness
        self.frames: list[AudioFrame] = []
        """Every frame processed, in order."""
        self.resets = 0
        """How many times :meth:`reset` was called."""
        self.seeded_delays: list[int] = []
        """Every delay, in samples, given to :meth:`seed_delay`."""

    def process(self, frame: AudioFrame) -> EchoResult:
        """Record ``frame`` and return it as it is."""
        self.frames.append(frame)
        return EchoResult(frame, self.residual_echo, self.echo_likeness)

    def reset(self) -> None:
        """Count the call (nothing was learned to forget)."""
        self.resets += 1

    def seed_delay(self, delay_samples: int) -> None:
        """Record the speaker -> microphone delay a calibration measured."""
        self.seeded_delays.append(delay_samples)


class ScriptedTranscriptFilter:
    """A :class:`~realtalk.echo.TranscriptFilter` that judges echo exactly the transcripts it
    is told to.

    Args:
        drop: the transcripts to drop (compared whole, after stripping surrounding spaces),
            or a function of the text that says whether to drop it.
        name: the name its verdicts carry.

    It keeps every call in :attr:`judged`: the text and the context it was judged in (what
    the assistant had said, and when).

    Raises:
        ConfigurationError: ``drop`` is neither a collection of strings nor callable, or
            ``name`` is not a non-empty string.
    """

    def __init__(self, drop: Collection[str] | Callable[[str], bool] = (), *,
                 name: str = "scripted") -> None:
        if callable(drop):
            self._drops: Callable[[str], bool] = drop
        elif isinstance(drop, Collection) and not isinstance(drop, str) \
                and all(isinstance(text, str) for text in drop):
            texts = frozenset(text.strip() for text in drop)
            self._drops = lambda text: text.strip() in texts
        else:
            raise bad_argument("drop", "a collection of transcripts or a function of the text",
                               drop)
        check_type("name", name, str, "a non-empty string")
        if not name:
            raise bad_argument("name", "a non-empty string", name)
        self._name = name
        self.judged: list[tuple[str, TranscriptContext]] = []
        """Every ``(text, context)`` judged, in order."""

    @property
    def name(self) -> str:
        """The name verdicts carry."""
        return self._name

    def judge(self, text: str, context: TranscriptContext) -> TranscriptVerdict:
        """Drop ``text`` if the script says so; record the call."""
        self.judged.append((text, context))
        if self._drops(text):
            return TranscriptVerdict(filter=self._name, drop=True, score=1.0,
                                     reason=f"scripted to drop {text!r}")
        return TranscriptVerdict(filter=self._name, drop=False, reason="not scripted to drop")
