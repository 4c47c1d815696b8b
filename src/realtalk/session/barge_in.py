"""The barge-in policy: when do per-frame speech decisions become a confirmed onset?

Pure logic with explicit times. A click is shorter than ``min_speech_ms``, so it never
confirms; short dips inside speech (between syllables) up to ``max_gap_ms`` do not reset the
count. A loud sound held as speech by a detector that hears the assistant's residual voice (a
cough, a keyboard) confirms only if enough of it was voiced (``min_voiced_ms``), as a vowel
is. Once the user's own level is known (:class:`~realtalk.vad.user_level.UserLevel`), a run
confirms only when ``min_loud_ms`` of its frames come within ``max_below_user_db`` of it, so
background talkers well under the user do not. After a confirmation the policy re-arms only
after ``rearm_silence_ms`` of silence, so one utterance is one onset. A run that ends unconfirmed
but held enough voiced speech to be a short word (``check_speech_ms``, ``check_voiced_ms``)
is handed on as :class:`ShortSpeech`, for its words to decide.
"""

from __future__ import annotations

import math

import attrs

from .._args import check_flag, check_methods, check_number, validator
from .decision import InterruptionClassifier

__all__ = ("BargeIn", "BargeInPolicy", "ShortSpeech")

_MILLISECONDS = validator(check_number, minimum=0.0)


_FLAG = validator(check_flag)


@attrs.frozen(kw_only=True)
class BargeIn:
    """Barge-in settings.

    Args:
        min_speech_ms: speech needed before an onset is confirmed.
        min_voiced_ms: of that speech, how much must be voiced (periodic: the detector's
            ``voiced_ms``, see :mod:`realtalk.vad.combined`) before it is confirmed; the count
            goes on until it is. A cough or a keyboard over the assistant's voice is loud, and
            the assistant's residual voice keeps the spectral detector saying "speech", but
            it is not voiced itself. Measured in ``benchmarks/barge_in.py`` (seeds 0 / 1):
            coughs that stopped the assistant 15 / 11 of 45 -> 2 / 1, false stops a minute
            1.99 / 2.25 -> 1.62 / 1.81, barge-ins detected unchanged; 60 ms cut false stops
            by a third or more but missed more short commands ("stop", "no") in
            ``benchmarks/backchannel.py``. A detector that does not report ``voiced_ms`` is
            not held to it; ``0`` turns it off.
        max_echo_likeness: a frame the echo canceller judged more like the playback than
            this (``EchoResult.echo_likeness``: how much of its power follows what the
            speaker played, 0 to 1) is not the user, however loud (``None``: never). A moved
            echo path leaves the assistant's voice in the cleaned microphone, voiced and as
            loud as a user, for the second or more the canceller and the echo gate take to
            relearn; the user's voice does not follow the playback. Measured in
            ``benchmarks/barge_in.py``: see docs/barge-in-unseen.md.
        max_below_user_db: once the user's speaking level is known (the active level of the
            speech confirmed while the speaker had been silent for a while: their turns, see
            :class:`~realtalk.vad.user_level.UserLevel`), a run is confirmed only when
            ``min_loud_ms`` of its frames come within this many dB of it; the count goes on
            until they do.
            Background talkers are speech too (voiced, word-shaped, their syllable peaks
            clear every noise floor), but further from the microphone than the user.
            Measured in ``benchmarks/barge_in.py``, each trial opening with a user turn at
            the barge-in's level +-4 dB: see docs/barge-in-unseen.md. ``None``: off (and
            until the user has said ``UserLevel.min_speech_s`` of speech, it has no effect).
        min_over_room_db: a run is confirmed only when ``min_loud_ms`` of its frames stand
            this far above the room's usual level before the run began: the median level of
            every frame the detector was given (after the echo canceller) over the last 2 s. The
            user is the nearest talker, so their voice stands out of what the room was doing;
            talkers behind them, a television, or what a moved echo path leaves of the
            assistant make up that level themselves. Unlike ``max_below_user_db`` it needs
            no turn of the user's first. Measured in ``benchmarks/barge_in.py``: see
            docs/barge-in-unseen.md. ``None``: off. For both rules a frame's level is the
            level it holds throughout, not its mean (see
            :func:`~realtalk.audio.pcm.sustained_mean_square`): a keystroke is as loud as a
            voice for a millisecond, not for the whole frame.
        min_loud_ms: how much of a run must reach those level bars (``max_below_user_db``,
            ``min_over_room_db``) before it is confirmed, one frame at least. A user who
            stands out of the room does so over a syllable; a talker behind them reaches the
            bar with the peak of a loud syllable, often for a single 20 ms frame. Measured
            in ``benchmarks/barge_in.py``: see docs/barge-in-unseen.md.
        max_gap_ms: non-speech tolerated inside speech before the count restarts.
        rearm_silence_ms: silence needed after a confirmed onset before the next one.
        use_server_vad: also let the server's ``speech_started`` stop the assistant, when the
            local detector agrees. Off by default: measured in loud echo
            (``benchmarks/barge_in.py``), it caught no user the local detector missed and added
            false stops. Without a local detector (``barge_in=None``) the server's VAD is the
            barge-in.
        cooldown_ms: after a confirmed onset, none is confirmed again for this long (a user
            who stops and starts again right away is one interruption, not two).
        notify_model: after truncating, add a system note right after the cut item telling
            the model it was interrupted, so its next reply can pick up naturally.
        false_interruption_s: if no user words (a transcript with at least ``min_words``
            words, or a new response) follow an interruption within this many seconds, it
            is judged false (``None``: never judged).
        resume_after_false: on a false interruption, ask the model to continue its reply
            from where it was cut (otherwise only report it).
        min_words: words a user transcript needs to count as a real interruption.
        duck_gain_db: the graded response: on the first frame of probable speech, playback
            ramps down by this much (``None``: no ducking, plain stop on confirmation); it is
            restored if the sound turns out not to be speech. 20 dB, the depth the barge-in
            goals ask of a duck; against 18 dB, ``benchmarks/barge_in.py`` (seeds 0 / 1)
            and ``benchmarks/backchannel.py`` moved by a false stop or none.
        duck_ramp_ms: how fast the duck (and the restore) ramps, short enough to be heard at
            once, long enough not to click.
        decide: what confirmed speech over the assistant does. ``True`` (the default): the
            assistant yields (playback pauses at the exact sample, the reply keeps arriving)
            and ``classifier`` decides whether it was an interruption (cancel and truncate at
            what was heard) or a backchannel or noise (the reply plays on from the paused
            sample); see :mod:`realtalk.session.decision`. ``False``: it stops and cancels
            the reply at once, as before the decision (then ``false_interruption_s`` judges
            it afterwards).
        classifier: the decision's judge (``None``: :class:`~realtalk.session.decision.
            LexiconClassifier`, whose settings hold the decision's deadlines); an app's own
            can wrap it to override its verdicts.
        max_yield_ms: the longest the assistant stays yielded: if no verdict has come by
            then, the speech counts as an interruption (a check's, see
            ``check_speech_ms``, as noise).
        check_speech_ms: a run of speech that ends before it is confirmed (shorter than
            ``min_speech_ms``, or with less voicing than ``min_voiced_ms``), but holds at
            least this much speech, of which ``check_voiced_ms`` voiced, is checked by its
            words: realtalk commits the audio (as ``commit_after_silence_ms`` does) and the
            classifier decides, on a command only (``LexiconClassifier.commands``): an
            interruption stops and truncates the reply, anything else leaves it playing. The
            reply is never paused for a check (its duck is held only ``duck_hold_ms``). A
            "stop" that the canceller's start or a hoarse voice leaves 60-100 ms long, 10-90
            ms of it voiced, was never confirmed, and the assistant talked on. ``None``:
            never (also without ``decide``, transcription, or ``commit_after_silence_ms``).
            Measured in ``benchmarks/backchannel.py`` and ``benchmarks/barge_in.py``: see
            docs/backchannels.md.
        check_voiced_ms: of a checked run, how much must be voiced (see ``min_voiced_ms``).
        duck_hold_ms: after a run worth checking ends (see ``check_speech_ms``), the duck
            is held this much longer for the user to go on: the first syllable of "ne- ver
            mind" and the pause after it (about 100 ms of speech, then 220 ms the detector
            does not hear) stay one duck, instead of a restore and a second duck when the
            word goes on. The count towards ``min_speech_ms`` still starts afresh. Measured
            in ``benchmarks/barge_in.py``: see docs/barge-in-unseen.md. ``0``: no hold.
        commit_after_silence_ms: while the assistant has yielded, once the user has been
            silent this long, realtalk commits the input audio itself
            (``input_audio_buffer.commit``: the service creates the user item and
            transcribes it, and starts no reply), so that the speech is decided on its words:
            a short "yeah" or "stop" the server's VAD missed would have none, and one it
            heard would have them only after its own silence window (500 ms by default),
            which the paused reply would wait out. ``None``: never (the server's commit
            decides, and speech it did not hear is guessed, see
            ``LexiconClassifier.undecided``). Needs input transcription. Measured in
            ``benchmarks/backchannel.py`` (docs/backchannels.md): decision p95 553 -> 253 ms,
            resume gap p95 786 -> 255 ms against waiting for the server's commit.
    """

    min_speech_ms: float = attrs.field(default=120.0, validator=_MILLISECONDS)
    min_voiced_ms: float = attrs.field(default=40.0, validator=_MILLISECONDS)
    max_echo_likeness: float | None = attrs.field(
        default=0.5, validator=validator(check_number, minimum=0.0, maximum=1.0, optional=True))
    max_below_user_db: float | None = attrs.field(
        default=10.0, validator=validator(check_number, minimum=0.0, optional=True))
    min_over_room_db: float | None = attrs.field(
        default=10.0, validator=validator(check_number, minimum=0.0, optional=True))
    min_loud_ms: float = attrs.field(default=40.0, validator=_MILLISECONDS)
    max_gap_ms: float = attrs.field(default=60.0, validator=_MILLISECONDS)
    rearm_silence_ms: float = attrs.field(default=300.0, validator=_MILLISECONDS)
    use_server_vad: bool = attrs.field(default=False, validator=_FLAG)
    cooldown_ms: float = attrs.field(default=0.0, validator=_MILLISECONDS)
    notify_model: bool = attrs.field(default=True, validator=_FLAG)
    false_interruption_s: float | None = attrs.field(
        default=2.5, validator=validator(check_number, positive=True, optional=True))
    resume_after_false: bool = attrs.field(default=True, validator=_FLAG)
    min_words: int = attrs.field(
        default=1, validator=validator(check_number, integer=True, minimum=1))
    # A duck lowers the assistant's voice: a gain above 0 dB would raise it.
    duck_gain_db: float | None = attrs.field(
        default=-20.0, validator=validator(check_number, maximum=0.0, optional=True))
    duck_ramp_ms: float = attrs.field(default=8.0, validator=_MILLISECONDS)
    decide: bool = attrs.field(default=True, validator=_FLAG)
    classifier: InterruptionClassifier | None = attrs.field(
        default=None, validator=validator(
            check_methods, ("decide",), "an InterruptionClassifier (with decide(evidence))",
            optional=True))
    max_yield_ms: float = attrs.field(
        default=4000.0, validator=validator(check_number, positive=True))
    commit_after_silence_ms: float | None = attrs.field(
        default=200.0, validator=validator(check_number, minimum=0.0, optional=True))
    check_speech_ms: float | None = attrs.field(
        default=60.0, validator=validator(check_number, minimum=0.0, optional=True))
    check_voiced_ms: float = attrs.field(default=30.0, validator=_MILLISECONDS)
    duck_hold_ms: float = attrs.field(default=300.0, validator=_MILLISECONDS)


@attrs.frozen(kw_only=True)
class ShortSpeech:
    """A run of speech that ended unconfirmed but is worth checking by its words (see
    ``BargeIn.check_speech_ms``).

    Attributes:
        onset: when its first frame was captured.
        speech_ms: how much of it was taken for speech.
        voiced_ms: how much of that was voiced (``inf`` from a detector that does not tell).
        silent_ms: the silence since its last speech frame (the gap that ended it).
    """

    onset: float
    speech_ms: float
    voiced_ms: float
    silent_ms: float


class BargeInPolicy:
    """Turns frame decisions into confirmed onsets (see the module docstring)."""

    def __init__(self, settings: BargeIn | None = None) -> None:
        self.settings = settings if settings is not None else BargeIn()
        self._onset: float | None = None
        self._speech_ms = 0.0
        self._voiced_ms = 0.0
        self._loud_ms = 0.0  # the run's speech at the level bar
        self._gap_ms = 0.0
        self._silence_ms = 0.0
        self._armed = True
        self._last_confirmed: float | None = None
        self.short: ShortSpeech | None = None
        """Set by :meth:`update` on the frame that ended a run worth checking."""
        self._holding = False  # the duck, after a run worth checking (duck_hold_ms)

    def update(self, is_speech: bool, frame_start: float, frame_ms: float,
               voiced_ms: float | None = None, *, level_db: float | None = None,
               min_level_db: float | None = None, over: bool = False) -> float | None:
        """Feed one frame's decision (and how much of it was voiced, ``None`` when the
        detector does not tell); returns the onset time when an onset is confirmed now.
        ``level_db``: the frame's level; ``min_level_db``: the level ``min_loud_ms`` of the
        run (one frame at least) must reach before it is confirmed (``None``: any, see
        ``max_below_user_db``);
        ``over``: the caller judges the confirmed speech over, whatever is heard now (the
        room is no longer at the user's level): a speech frame then counts as the silence
        that re-arms."""
        s = self.settings
        self.short = None
        if is_speech and not self._armed and over:
            # The confirmed speech has ended; what is heard now is quieter than the user
            # (the talkers behind them). What follows is a new run, judged from its own
            # frames, not from the user's loud ones.
            self._silence_ms += frame_ms
            if self._silence_ms >= s.rearm_silence_ms:
                self.speech_over()
            return None
        if is_speech:
            self._silence_ms = 0.0
            self._gap_ms = 0.0
            if self._onset is None:
                self._onset = frame_start
                self._speech_ms = self._voiced_ms = self._loud_ms = 0.0
                self._holding = False
            self._speech_ms += frame_ms
            if (level_db is not None and min_level_db is not None
                    and level_db >= min_level_db):
                self._loud_ms += frame_ms
            # Only a detector that measures voicing is held to it.
            self._voiced_ms = (math.inf if voiced_ms is None
                               else self._voiced_ms + min(voiced_ms, frame_ms))
            cooling = (self._last_confirmed is not None
                       and frame_start - self._last_confirmed < s.cooldown_ms / 1000.0)
            loud = min_level_db is None or (self._loud_ms > 0.0
                                            and self._loud_ms >= s.min_loud_ms)
            if (self._armed and not cooling and self._speech_ms >= s.min_speech_ms
                    and self._voiced_ms >= s.min_voiced_ms and loud):
                self._armed = False
                self._last_confirmed = frame_start
                return self._onset
            return None
        self._silence_ms += frame_ms
        if self._onset is not None:
            self._gap_ms += frame_ms
            if self._gap_ms > s.max_gap_ms:
                if self._armed and self._worth_checking():
                    self.short = ShortSpeech(onset=self._onset, speech_ms=self._speech_ms,
                                             voiced_ms=self._voiced_ms,
                                             silent_ms=self._gap_ms)
                    self._holding = True
                self._onset = None
                self._speech_ms = 0.0
        if self._holding and self._silence_ms > s.duck_hold_ms:
            self._holding = False
        if not self._armed and self._silence_ms >= s.rearm_silence_ms:
            self._armed = True
        return None

    def _worth_checking(self) -> bool:
        s = self.settings
        return (s.check_speech_ms is not None and self._speech_ms >= s.check_speech_ms
                and self._voiced_ms >= s.check_voiced_ms)

    @property
    def in_run(self) -> bool:
        """Whether a run of speech is under way (its first frame seen, no gap longer than
        ``max_gap_ms`` since)."""
        return self._onset is not None

    @property
    def probable(self) -> bool:
        """Whether a speech run is under way that could still be confirmed, or a run worth
        checking ended less than ``duck_hold_ms`` ago (duck now)."""
        return self._armed and (self._onset is not None or self._holding)

    @property
    def confirmed(self) -> bool:
        """Whether confirmed speech is still going on: an onset was confirmed and the
        ``rearm_silence_ms`` of silence that ends it have not passed yet."""
        return not self._armed

    def speech_judged(self) -> None:
        """The speech of the confirmed onset has been judged (the interruption decision):
        if the user is not talking now, it is over and the policy re-arms at once, rather
        than after ``rearm_silence_ms`` of silence (which a noisy room's stray frames can
        put off), so that what they say next is a new onset, not more of the judged one."""
        if self._onset is None:
            self._armed = True

    def speech_over(self) -> None:
        """The caller judged the confirmed speech over (the room has fallen under the user's
        level, see :meth:`~realtalk.vad.OnsetDetector.talking_now`): re-arm now, and what
        is heard next is a new run."""
        if not self._armed:
            self._armed = True
            self._onset = None

    def reset(self) -> None:
        """Forget any partial onset and re-arm."""
        self._onset = None
        self._speech_ms = self._voiced_ms = self._gap_ms = self._silence_ms = 0.0
        self._loud_ms = 0.0
        self._armed = True
        self._last_confirmed = None
        self.short = None
        self._holding = False
