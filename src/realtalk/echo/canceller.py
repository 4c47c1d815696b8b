"""An adaptive acoustic echo canceller: a partitioned-block frequency-domain filter in numpy.

The echo is the speaker signal convolved with the room, so a linear filter fed the reference
can predict it and subtract it. The canceller models it in four parts:

- **Bulk delay** (:class:`~realtalk.echo.delay.DelayEstimator`): the reference is delayed by
  the estimated speaker -> microphone delay (less a small margin, so the direct sound stays
  inside the filter), and the filter's taps cover the room's response only. When the estimate
  moves, the learned response is shifted with it instead of being relearned.
- **The filter**: overlap-save blocks of ``block_ms``, the response split into partitions of one
  block each (``tail_ms`` in all), adapted per frequency bin with a step normalised by the
  reference power there, so coloured speech converges about as fast as white noise. The step
  is shared among partitions in proportion to their weight (the direct path and early
  reflections carry most of a room's response and learn first). The gradient constraint is
  applied to every partition every block (cheaper schedules were measured to move the results
  by several dB).
- **Step control, the double-talk defence**: the ideal step in a bin is the share of the error
  there that is still echo. That share is estimated from how the error's power co-varies with
  the echo estimate's (the "leak"): the user's voice does not follow the echo estimate, so while
  the user talks the error grows, the ratio falls and the filter all but stops learning, instead
  of cancelling the user or drifting away.
- **Two filters**: a background filter adapts; the foreground filter, whose output is used, takes
  the background's coefficients only when the background has done measurably better, and not
  while the microphone holds more than twice the energy its echo estimate usually explains
  (the user talking over the assistant: a background that has partly learned their voice
  looks better then). A background that diverges anyway (a long double talk) is reset from
  the foreground; the output never follows it. Measured over seeds 0-2 at 16 and 24 kHz, the
  ERLE in the second after the double talk fell more than 6 dB below the ERLE before it in 3
  of 30 rooms (by 9-19 dB); with the hold, in 1 (office_noisy, seed 1, 16 kHz, by 10 dB;
  the filter recovers within about 0.5 s). Of the other two, small_clean (seed 2, 16 kHz)
  now falls by 5.9 dB; every other room by at most 3 dB, most not at all.
- **Path changes**: an output louder than the input for about 0.1 s (any excess, not a large
  one: the stale filter often still cancels part of the new echo) restarts both filters from
  nothing, and a delay estimate that jumps by more than a quarter block sends a converged
  filter back to the cold start's fast fixed step. Measured over seeds 0-2 at 16 and 24 kHz
  (``benchmarks/echo.py``), the worst room's re-convergence went from 1.65-3.75 s to
  0.85-2.0 s per run, and to 0.5-0.85 s once the delay estimator acted on two agreeing
  windows instead of waiting for its accumulated cross-spectrum. That figure leaned on a
  cascade, each restart setting off the next and each restarting the suppressor, which the
  barge-in detector could not live with (see ``_watch_for_harm``); without it the worst
  room is at 0.8-2.6 s per run. A block whose microphone stands far above what the recent
  reference usually brings is the user, not a moved path (the user's voice over a
  half-learned filter also makes its output louder): it neither counts towards a restart
  nor is floored.

With ``suppress=True`` the output then goes through the residual echo suppressor
(:class:`~realtalk.echo.suppressor.ResidualEchoSuppressor`), which the canceller tells, per bin,
how sure it is that the bin holds echo only: the larger of two smoothed (about 0.1 s)
magnitude-squared coherences, microphone against the aligned reference and microphone against
the filter's echo estimate. Echo follows both; the user's voice and noise follow neither, so
during double talk the bins the user dominates drop towards 0. Until the filter has converged
(the start, and after a restart) every bin counts as echo in proportion to how far it still is.

The residual echo left in each frame is estimated from the leak and the echo estimate (or, with
the suppressor, from its predicted residual and gains); the gate and the barge-in detector judge
the cleaned microphone against it.

CPU: a 20 ms block costs a handful of batched numpy calls (one product and one inverse
transform serve both filters; one forward transform gives both errors', both estimates' and the
microphone's spectra; one Gram matrix every energy; the background filter's constrained update
and the suppressed output share one inverse transform; the reference history slides without
moving). ``benchmarks/echo.py`` measures a real-time factor of about 0.015-0.016 at 16 and
24 kHz on a busy 2-core x86_64 machine, where Speex and WebRTC AEC3 measure 0.011-0.014; the
echo likeness (``EchoResult.echo_likeness``) added about 10 % (0.0162 -> 0.0180 at 16 kHz,
0.0179 -> 0.0198 at 24 kHz, measured in one run).
"""

from __future__ import annotations

import collections
import math

import numpy as np
import numpy.typing as npt

from ..audio.frame import AudioFrame
from ..errors import AudioError, ConfigurationError
from .base import EchoResult
from .delay import DelayEstimator
from .suppressor import ResidualEchoSuppressor

__all__ = ("EchoCanceller",)

Float64Array = npt.NDArray[np.float64]
Complex128Array = npt.NDArray[np.complex128]

_FULL_SCALE = 32768.0
_NO_BASE = 1e6  # the microphone-to-echo-estimate ratio before one has been seen
_ACTIVE = 1e-6  # reference mean square (full scale 1) above which a block counts as playing
# The near-end test (see EchoCanceller._judge_near_end): how far back the loudest reference
# block can still be ringing at the microphone (as the gate's max_delay_ms), how far the
# microphone must stand above the level that reference usually brings, and how fast that
# usual level follows.
_NEAR_END_WINDOW_MS = 300.0
_NEAR_END_DB = 9.0
_RATIO_STEP_DB = 0.25
# The echo likeness (EchoResult.echo_likeness) compares the output with the reference's newest
# partitions: at the bulk delay and up to three blocks (60 ms at 20 ms blocks) later, where
# the echo of a path that moved arrives before the delay estimate follows it.
_LIKENESS_PARTITIONS = 4


class EchoCanceller:
    """An :class:`~realtalk.echo.EchoFilter` that subtracts the adaptively predicted echo.

    Frames whose length is a multiple of the block pass without delay; after the first frame
    that is not, the output runs ``block - 1`` samples late (silence is inserted once).

    Args:
        sample_rate: rate of the microphone and reference.
        tail_ms: length of the room response the filter models (after the bulk delay).
        block_ms: processing block; shorter reacts sooner, longer costs less CPU.
        max_delay_ms: the longest bulk delay searched (``0``: no delay estimation).
        delay_margin_ms: how much earlier than the estimated delay the filter starts.
        step: the largest adaptation step (0 < step <= 1).
        suppress: also run the residual echo suppressor
            (:class:`~realtalk.echo.suppressor.ResidualEchoSuppressor`) on the output.
    """

    def __init__(self, sample_rate: int = 24_000, *, tail_ms: float = 200.0,
                 block_ms: float = 20.0, max_delay_ms: float = 500.0,
                 delay_margin_ms: float = 4.0, step: float = 1.0,
                 suppress: bool = False) -> None:
        if sample_rate <= 0:
            raise ConfigurationError(f"sample_rate must be positive, got {sample_rate}")
        if not 0 < step <= 1:
            raise ConfigurationError(f"step must be in (0, 1], got {step}")
        block = round(sample_rate * block_ms / 1000)
        if block < 16:
            raise ConfigurationError(f"block_ms={block_ms} gives {block} samples; need >= 16")
        if not tail_ms >= block_ms:
            raise ConfigurationError(f"tail_ms must be >= block_ms, got {tail_ms}")
        self.sample_rate = sample_rate
        self.block = block
        self.partitions = math.ceil(tail_ms / block_ms)
        self.step = step
        self.coherence_smoothing = 0.8
        self.delay_margin = round(sample_rate * delay_margin_ms / 1000)
        self.suppressor = ResidualEchoSuppressor(block + 1) if suppress else None
        self.delay_estimator = (DelayEstimator(sample_rate, max_delay_ms=max_delay_ms)
                                if max_delay_ms > 0 else None)
        self._max_bulk = round(sample_rate * max_delay_ms / 1000)
        self.reset()

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the learned path, the delay and all buffered audio."""
        b, p = self.block, self.partitions
        bins = b + 1
        self.bulk_delay = 0
        """The delay, in samples, applied to the reference before the filter."""
        # Reference spectra and their conjugates, newest first in the views
        # _xbuf[:, _xi : _xi + p]; every spectrum is written twice so that view is always
        # contiguous.
        self._xbuf: Complex128Array = np.zeros((2, 2 * p, bins), dtype=np.complex128)
        self._xi = 0
        self._xpow: Float64Array = np.zeros((2 * p, bins))  # their power, laid out alike
        self._xpow_now: Float64Array = self._xpow[0]
        self._span: Float64Array = np.zeros(bins)  # the sum of the p newest powers
        # Rows, second halves: both filters' errors, both echo estimates, the microphone, the
        # reference; the first halves stay zero (the overlap-save padding).
        self._rows: Float64Array = np.zeros((6, 2 * b))
        self._body: Float64Array = self._rows[:, b:]
        # Both filters in one array, so one product and one transform serve both.
        self._w: Complex128Array = np.zeros((2, p, bins), dtype=np.complex128)
        self._w_fore = self._w[0]
        self._w_back = self._w[1]
        self._product: Complex128Array = np.zeros((2, p, bins), dtype=np.complex128)
        # The background filter's update, and (last row) the suppressed output's spectrum:
        # one inverse transform serves both.
        self._inverse: Complex128Array = np.zeros((p + 1, bins), dtype=np.complex128)
        self._history = _History(self._max_bulk + (p + 1) * b)
        self._power: Float64Array = np.zeros(bins)
        # Coherence sums: microphone x reference and x echo estimate (complex); microphone,
        # reference and echo estimate powers.
        self._s_cross: Complex128Array = np.zeros((2, bins), dtype=np.complex128)
        self._s_pow: Float64Array = np.zeros((3, bins))
        self._cross_in: Complex128Array = np.zeros((2, bins), dtype=np.complex128)
        self._pow_in: Float64Array = np.zeros((3, bins))
        self._means: Float64Array = np.zeros((2, bins))  # of the error's and estimate's power
        self._pey = 0.0
        self._pyy = 0.0
        self._leak = 1.0
        self._adapted = 0.0
        self._d_avg = 0.0
        self._d_var = 0.0
        self._back_worse = 0
        self._s_mic = 0.0
        self._s_out = 0.0
        self._s_est = 0.0
        self._harm = 0
        self._erl_base = _NO_BASE
        self._recent_reference: collections.deque[float] = collections.deque(
            maxlen=max(1, round(_NEAR_END_WINDOW_MS * self.sample_rate / 1000 / self.block)))
        self._usual_ratio_db: float | None = None
        self._near_end = False
        # The echo likeness: the output's smoothed cross-spectra with the reference's newest
        # partitions, its power and theirs; and the most of it over the current frame.
        likeness_rows = min(_LIKENESS_PARTITIONS, p)
        self._like_cross: Complex128Array = np.zeros((likeness_rows, bins), dtype=np.complex128)
        self._like_out: Float64Array = np.zeros(bins)
        self._like_ref: Float64Array = np.zeros((likeness_rows, bins))
        self._like_product: Complex128Array = np.zeros((likeness_rows, bins),
                                                       dtype=np.complex128)
        self._like_magnitude: Float64Array = np.zeros((likeness_rows, bins))
        self._like_power: Float64Array = np.zeros((likeness_rows, bins))
        self._frame_likeness: float | None = None
        self._mic_fifo: Float64Array = np.zeros(0)
        self._ref_fifo: Float64Array = np.zeros(0)
        self._out_fifo: Float64Array = np.zeros(0)
        self._residual_fifo: Float64Array = np.zeros(0)
        self.blocks = 0
        self.foreground_updates = 0
        self.background_resets = 0
        self.restarts = 0
        if self.delay_estimator is not None:
            self.delay_estimator.reset()
        if self.suppressor is not None:
            self.suppressor.reset()

    def seed_delay(self, delay_samples: int) -> None:
        """Start from a measured speaker -> microphone delay (the echo-path calibration,
        :func:`realtalk.echo.calibration.measure_echo_path`) instead of finding it from the
        assistant's first second of speech. The estimator keeps watching and may move it.

        Raises:
            ConfigurationError: a negative delay.
        """
        if delay_samples < 0:
            raise ConfigurationError(f"delay_samples must be >= 0, got {delay_samples}")
        self._move_to(delay_samples)
        if self.delay_estimator is not None:
            self.delay_estimator.delay = delay_samples

    @property
    def leak(self) -> float:
        """The estimated share of the echo estimate's power left in the output."""
        return self._leak

    @property
    def converged(self) -> bool:
        """Whether the filter has seen enough reference to trust its own step control."""
        return self._adapted >= 1.0

    def impulse_response(self) -> Float64Array:
        """The foreground filter's response (after the bulk delay), in full-scale units."""
        taps = np.fft.irfft(self._w_fore, 2 * self.block, axis=1)[:, : self.block]
        return np.asarray(taps.reshape(-1), dtype=np.float64)

    @property
    def echo_gain_db(self) -> float:
        """Energy gain of the learned echo path, ``10*log10(sum(h**2))``."""
        energy = float(np.sum(self.impulse_response() ** 2))
        return 10 * math.log10(energy) if energy > 0 else -120.0

    # -- processing --------------------------------------------------------------------------

    def process(self, frame: AudioFrame) -> EchoResult:
        """Cancel the echo of ``frame.reference`` in ``frame.samples``.

        A frame without a reference passes unchanged (``residual_echo`` None).

        Raises:
            AudioError: a multichannel frame, a sample rate other than the canceller's, or a
                reference of another length than the samples.
        """
        if frame.reference is None:
            return EchoResult(frame, None)
        if frame.samples.ndim != 1:
            raise AudioError("EchoCanceller needs mono frames; downmix with frame.mono()")
        if frame.sample_rate != self.sample_rate:
            raise AudioError(f"EchoCanceller runs at {self.sample_rate} Hz, "
                             f"got a {frame.sample_rate} Hz frame")
        if len(frame.reference) != len(frame.samples):
            raise AudioError(f"reference has {len(frame.reference)} samples, "
                             f"the frame {len(frame.samples)}")
        self._frame_likeness = None
        out, residual = self.cancel(frame.samples, frame.reference)
        scaled = np.rint(out * _FULL_SCALE)
        cleaned = np.minimum(np.maximum(scaled, -32768.0, out=scaled), 32767.0,
                             out=scaled).astype(np.int16)
        return EchoResult(AudioFrame(cleaned, frame.sample_rate, frame.timestamp,
                                     reference=frame.reference), residual,
                          self._frame_likeness)

    def cancel(self, mic: npt.ArrayLike, reference: npt.ArrayLike) -> tuple[Float64Array, float]:
        """Cancel on raw int16-scaled samples: ``(cleaned in full scale 1.0, residual echo
        mean square)`` for as many samples as were given."""
        mic = np.asarray(mic)
        n = len(mic)
        b = self.block
        if n == b and not len(self._mic_fifo) and not len(self._out_fifo):
            # One frame, one block: the usual case in a conversation.
            return self._block(mic * (1.0 / _FULL_SCALE),
                               np.asarray(reference) * (1.0 / _FULL_SCALE))
        if n % b == 0 and not len(self._mic_fifo) and not len(self._out_fifo):
            # The usual case, whole blocks and nothing held back: no queues.
            d_all = mic * (1.0 / _FULL_SCALE)
            x_all = np.asarray(reference) * (1.0 / _FULL_SCALE)
            outs = []
            total = 0.0
            for i in range(0, n, b):
                e, residual = self._block(d_all[i:i + b], x_all[i:i + b])
                outs.append(e)
                total += residual
            out = np.concatenate(outs) if len(outs) > 1 else (outs[0] if outs else d_all)
            return out, total / max(1, n // b)
        self._mic_fifo = np.concatenate((self._mic_fifo, np.asarray(mic, np.float64) / _FULL_SCALE))
        self._ref_fifo = np.concatenate((self._ref_fifo,
                                         np.asarray(reference, np.float64) / _FULL_SCALE))
        while len(self._mic_fifo) >= b:
            d, self._mic_fifo = self._mic_fifo[:b], self._mic_fifo[b:]
            x, self._ref_fifo = self._ref_fifo[:b], self._ref_fifo[b:]
            e, residual = self._block(d, x)
            self._out_fifo = np.concatenate((self._out_fifo, e))
            self._residual_fifo = np.concatenate((self._residual_fifo, np.full(b, residual)))
        if len(self._out_fifo) < n:
            # Frames that do not fill whole blocks: from now on the output runs block - 1
            # samples late, which is always enough, so silence is inserted once, not often.
            pad = self.block - 1
            self._out_fifo = np.concatenate((np.zeros(pad), self._out_fifo))
            self._residual_fifo = np.concatenate((np.zeros(pad), self._residual_fifo))
        out, self._out_fifo = self._out_fifo[:n], self._out_fifo[n:]
        res, self._residual_fifo = self._residual_fifo[:n], self._residual_fifo[n:]
        return out, float(np.mean(res)) if n else 0.0

    def _delayed_window(self, x: Float64Array) -> Float64Array:
        """Append the newest reference block; the overlap-save window (two blocks) of the
        reference delayed by the bulk delay, whose second half is this block's."""
        hist = self._history.append(x)
        end = len(hist) - self.bulk_delay
        return hist[end - 2 * self.block:end]

    def _push_spectrum(self, spectrum: Complex128Array) -> tuple[Complex128Array,
                                                                 Complex128Array]:
        """Store the newest reference spectrum, its conjugate and its power; the spectra and
        their conjugates, newest first."""
        p = self.partitions
        i = self._xi = (self._xi - 1) % p
        buf = self._xbuf
        buf[0, i] = spectrum
        np.conjugate(spectrum, out=buf[1, i])
        buf[:, i + p] = buf[:, i]
        power = spectrum.real**2 + spectrum.imag**2
        if i == 0:  # now and then, the exact sum (a running sum drifts)
            self._xpow[0] = power
            self._span[:] = self._xpow[:p].sum(axis=0)
        else:
            self._span -= self._xpow[i]
            self._span += power
            self._xpow[i] = power
        self._xpow[i + p] = power
        self._xpow_now = power
        return buf[0, i:i + p], buf[1, i:i + p]

    def _block(self, d: Float64Array, x_new: Float64Array) -> tuple[Float64Array, float]:
        b = self.block
        self.blocks += 1
        if self.delay_estimator is not None and self.delay_estimator.process(x_new, d):
            self._jumped(self.delay_estimator.delay or 0)
        window = self._delayed_window(x_new)
        xs, xc = self._push_spectrum(np.fft.rfft(window))
        body = self._body
        y_both = np.fft.irfft(np.multiply(self._w, xs, out=self._product).sum(axis=1), 2 * b,
                              axis=1)
        body[2:4] = y_both[:, b:]
        body[4] = d
        body[5] = window[b:]
        np.subtract(body[4], body[2:4], out=body[:2])
        # Every energy the block needs from one product: fore/back errors and their cross
        # term, the echo estimates', the microphone's and the reference's.
        gram = (body @ body.T).tolist()
        fore = self._choose_filter(gram[0][0], gram[1][1], gram[0][1])
        see, syy, x_power = gram[fore][fore], gram[2 + fore][2 + fore], gram[5][5]
        self._judge_near_end(gram[4][4], float(x_new @ x_new))
        self._watch_for_harm(gram[4][4], see, syy)
        playing = x_power > _ACTIVE * b
        xn_pow = self._xpow_now
        self._power *= 0.7
        self._power += 0.3 * xn_pow
        # Spectra of (zero-padded) both errors, both estimates and the microphone.
        specs = np.fft.rfft(self._rows[:5], axis=1)
        pows = specs.real**2 + specs.imag**2
        e_spec, y_spec = specs[fore], specs[2 + fore]
        e_pow, y_pow = pows[fore], pows[2 + fore]
        self._update_leak(pows[fore::2][:2], see, syy)
        mu = self._step_sizes(e_pow, y_pow, see, syy, x_power) if playing else None
        residual = self._leak * syy / b
        gains = None
        if self.suppressor is not None:
            # The reference's mean power per partition over the filter's span: any of it may
            # still be ringing in the room.
            span_power = self._span * (1.0 / self.partitions)
            gains = self.suppressor.gains(e_pow, span_power, playing,
                                          self._coherence(specs[4], xc[0], y_spec,
                                                          d_pow=pows[4], x_pow=xn_pow,
                                                          y_pow=y_pow),
                                          # Until the filter has converged its echo estimate
                                          # means little (the start, after a restart).
                                          1.0 - min(self._adapted, 1.0))
            if (self._harm and not self.double_talk and not self._near_end
                    and self._s_est > 0.05 * self._s_mic):
                # The filter adds an echo that is not there (the path moved): until the
                # restart its output is echo, not the user, whatever the suppressor learned
                # of the old path. Passed on, it stopped the assistant within 0.1 s of a
                # move in unseen rooms. Not while the microphone holds far more than the
                # echo: that is the user, whom a filter learning through the double talk
                # can also make briefly louder. Nor when the echo estimate is a small part
                # of the microphone (under 5 %, 13 dB down): a filter that small cannot
                # be what makes the output loud, and before convergence (when double_talk
                # cannot tell) that is the user's voice over a half-learned filter; floored,
                # a short "stop" in the assistant's first second vanished. Nor in a block
                # that is near-end speech by its level (see _judge_near_end).
                gains = np.full_like(gains, self.suppressor.floor)
            np.multiply(e_spec, gains, out=self._inverse[-1])
            residual = float(np.dot(gains * gains, self.suppressor.residual)) / (b * b)
            self._judge_likeness(self._inverse[-1], e_pow * (gains * gains), xc)
        else:
            self._judge_likeness(e_spec, e_pow, xc)
        if mu is not None:
            out = self._adapt(mu, xc, specs[1], gains is not None)
            return (out if out is not None else body[fore].copy()), residual
        if gains is not None:
            return np.fft.irfft(self._inverse[-1], 2 * b)[b:], residual
        return body[fore].copy(), residual

    def _judge_likeness(self, out_spec: Complex128Array, out_pow: Float64Array,
                        x_conj: Complex128Array) -> None:
        """How much of the block's output power follows the reference: per bin, the smoothed
        magnitude-squared coherence of the output with each of the reference's newest
        partitions (``x_conj``, conjugated, newest first), the best partition's, weighted by
        the output's power. Kept as the most over the frame (``EchoResult.echo_likeness``).

        Why: after a path move the stale filter leaves the assistant's voice in the output,
        voiced and as loud as a user, and the gate's learned echo level lags it by seconds;
        traced in ``benchmarks/barge_in.py``, 14 of the 19 false stops within 1 s of a move
        came with no restart or delay jump at all. But that residue is still a filtered copy
        of the reference, while the user's voice is not: over the frames the detector took
        for speech, this measure exceeded 0.5 in 22 % of those after a move with no user and
        in 1.8 % of the first frames of real barge-ins."""
        rows = len(self._like_ref)
        a = self.coherence_smoothing
        # Smoothed sums scaled by 1 / (1 - a): the scale cancels in the coherence.
        cross, product = self._like_cross, self._like_product
        cross *= a
        cross += np.multiply(x_conj[:rows], out_spec, out=product)
        out_power, ref = self._like_out, self._like_ref
        out_power *= a
        out_power += out_pow
        ref *= a
        ref += self._xpow[self._xi:self._xi + rows]
        total = float(out_pow.sum())
        if total <= 0.0:
            likeness = 0.0
        else:
            magnitude = np.abs(cross, out=self._like_magnitude)
            magnitude *= magnitude
            magnitude /= np.multiply(ref, out_power, out=self._like_power) + 1e-20
            likeness = min(float((magnitude @ out_pow).max()) / total, 1.0)
        if self._frame_likeness is None or likeness > self._frame_likeness:
            self._frame_likeness = likeness

    def _coherence(self, d_spec: Complex128Array, x_conj: Complex128Array,
                   y_spec: Complex128Array, *, d_pow: Float64Array, x_pow: Float64Array,
                   y_pow: Float64Array) -> Float64Array:
        """Per bin, the larger of two smoothed magnitude-squared coherences, the microphone's
        with the aligned reference and with the echo estimate: near 1 where the echo
        dominates, near 0 where the user or noise does (neither follows the reference)."""
        a = self.coherence_smoothing
        cross = self._cross_in
        cross[0] = x_conj
        np.conjugate(y_spec, out=cross[1])
        cross *= (1 - a) * d_spec
        self._s_cross *= a
        self._s_cross += cross
        powers = self._pow_in
        powers[0] = d_pow
        powers[1] = x_pow
        powers[2] = y_pow
        powers *= 1 - a
        self._s_pow *= a
        self._s_pow += powers
        s_cross, s_pow = self._s_cross, self._s_pow
        coherence = (s_cross.real**2 + s_cross.imag**2) / (s_pow[0] * s_pow[1:] + 1e-20)
        return np.asarray(coherence.max(axis=0), dtype=np.float64)

    def _choose_filter(self, sff: float, see: float, cross: float) -> int:
        """Promote the background filter when it does measurably better; reset it when it
        does much worse. Takes both filters' error energies and their cross term; returns
        which filter's output to use for this block (0: foreground, 1: background)."""
        dbf = max(sff + see - 2.0 * cross, 0.0) + 1e-12
        gain = sff - see
        self._d_avg = 0.6 * self._d_avg + 0.4 * gain
        self._d_var = 0.36 * self._d_var + 0.16 * sff * dbf
        # Better by more than the two outputs' difference could explain by chance, in this
        # block or over the last few.
        # Not while the user talks over the assistant: a background that has partly
        # learned their voice does look better then (it cancels some of it), and promoted
        # late in a double talk it left the echo up to 19 dB louder for a second after it.
        if not self.double_talk and (gain * abs(gain) > sff * dbf
                                     or self._d_avg * abs(self._d_avg) > 2 * self._d_var):
            self._w_fore[:] = self._w_back
            self.foreground_updates += 1
            self._d_avg = self._d_var = 0.0
            self._back_worse = 0
            return 1
        if -gain > 4 * sff and see > 1e-9:
            self._back_worse += 1
            if self._back_worse >= 3:
                self._w_back[:] = self._w_fore
                self.background_resets += 1
                self._back_worse = 0
                self._d_avg = self._d_var = 0.0
        else:
            self._back_worse = 0
        return 0

    @property
    def double_talk(self) -> bool:
        """Whether the microphone now holds far more than the echo: the user talking over
        the assistant (a double-talk detector). Its energy over the echo estimate's is more
        than twice the lowest that ratio has lately been (the echo alone; it creeps up 0.2 %
        a block, 10 % a second at 20 ms blocks, and is forgotten on a restart or a delay
        jump). Always false until the filter has converged."""
        return (self.converged
                and self._s_mic > 2.0 * self._erl_base * (self._s_est + 1e-12))

    def _judge_near_end(self, sdd: float, sxx: float) -> None:
        """Judge whether the block's microphone (energy ``sdd``) holds the user by its level
        alone: more than ``_NEAR_END_DB`` above the usual ratio of the microphone to the
        loudest reference block of the last ``_NEAR_END_WINDOW_MS`` (``sxx``: this block's
        reference energy). Unlike :attr:`double_talk` it needs no converged filter.

        Why: before convergence the user's voice over a half-learned filter makes the output
        a little louder than the input (the filter's estimate adds power the voice does not
        cancel), which the harm watch took for a moved echo path: it floored the output 40 dB
        and restarted the filter. Traced in ``benchmarks/backchannel.py``, 12 of the 18 short
        commands never stopped had 40-120 ms of their voice floored so. A moved path does not
        raise the microphone far above the level the same reference brought a moment ago; a
        voice does. The usual ratio is a running median in dB (a step of
        ``_RATIO_STEP_DB`` towards each block's ratio), so the user's minority of blocks
        moves it little and a real change of level (the volume turned up) is followed within
        a second or two.

        A weak test, used only here: the echo's own syllable peaks stand 6 dB over the usual
        ratio in 12-28 % of the blocks of playback alone, and a path that got louder looks
        like a voice until the usual ratio catches up. So the margin is 9 dB, and it only
        keeps the harm watch from acting; it never passes the echo by itself. Measured
        (``benchmarks/backchannel.py``, ``benchmarks/barge_in.py`` seed 0): at 6 dB,
        interruptions stopped 93.5 -> 96.0 % but false stops within 1 s of a path move 13.0
        -> 17.7 a minute; at 9 dB, 95.7 % and 12.9 a minute."""
        recent = self._recent_reference
        recent.append(sxx)
        loudest = max(recent)
        active = _ACTIVE * self.block
        if loudest <= active or sdd <= active:
            self._near_end = False
            return
        ratio_db = 10.0 * math.log10(sdd / loudest)
        usual = self._usual_ratio_db
        if usual is None:
            self._usual_ratio_db = ratio_db
            self._near_end = False
            return
        self._near_end = ratio_db > usual + _NEAR_END_DB
        self._usual_ratio_db = usual + (_RATIO_STEP_DB if ratio_db > usual else -_RATIO_STEP_DB)

    def _watch_for_harm(self, sdd: float, sff: float, syy: float) -> None:
        """A filter whose output is louder than its input is subtracting an echo that is not
        there (the path changed, or it diverged): start again from nothing, fast. Takes the
        block's input, output and echo estimate energies.

        Any excess over about 0.1 s counts, not only a large one: after a path change the old
        filter often still cancels part of the new echo (the same speaker, a similar direct
        sound), so its output is only a little louder than its input, and a 1.5x threshold
        let it run for seconds. A zero filter passes its input exactly and never trips this,
        so after a restart it fires again only while the relearning filter is still adding
        power (the echo arriving before the delayed reference until the delay estimate
        moves): the suppressor then stays at its cold-start setting instead of trusting a
        filter that cannot cancel yet. The suppressor is reset only when the echo estimate
        was a real part of the input (over 5 %): with little or no echo (headphones) a
        restart must not make it take the user's voice for echo."""
        self._s_mic = 0.8 * self._s_mic + 0.2 * sdd
        self._s_out = 0.8 * self._s_out + 0.2 * sff
        self._s_est = 0.8 * self._s_est + 0.2 * syy
        if self._s_est > 1e-12 and self._s_mic > _ACTIVE * self.block:
            ratio = self._s_mic / self._s_est
            self._erl_base = min(ratio, self._erl_base * 1.002)
        if self._near_end:
            pass  # the user's voice over a half-learned filter: no evidence either way
        elif self._s_out > self._s_mic and self._s_mic > _ACTIVE * self.block:
            self._harm += 1
        else:
            self._harm = 0
        if self._harm >= 5:
            if self.suppressor is not None and self._s_est > 0.05 * self._s_mic:
                self.suppressor.reset()
            self._w_fore[:] = 0.0
            self._w_back[:] = 0.0
            # The harmful output's history goes with the filter that made it: left in the
            # smoothed energies, it kept the output "louder than the input" for as long as
            # the input lasted, once the two were equal, so a restart set off another every
            # 0.1 s (144 in 40 s of one room, the canceller off for seconds at a time).
            self._s_out = self._s_mic
            self._s_est = 0.0
            self._adapted = 0.0
            self._erl_base = _NO_BASE
            self._pey = self._pyy = 0.0
            self._leak = 1.0
            self._harm = 0
            self.restarts += 1

    def _update_leak(self, powers: Float64Array, see: float, syy: float) -> None:
        """Track how much of the echo estimate's power still shows in the error: the
        covariance of their fluctuations over their variance. ``powers``: the error's and the
        estimate's power spectra."""
        means = self._means
        means *= 0.95
        means += 0.05 * powers
        dev = powers - means
        cov = (dev @ dev[1]).tolist()
        rate = self.block / self.sample_rate
        alpha = min(2 * rate * syy / (see + 1e-10), 0.5 * rate)
        self._pey = (1 - alpha) * self._pey + alpha * cov[0]
        self._pyy = (1 - alpha) * self._pyy + alpha * cov[1]
        if self._pyy > 1e-15:
            self._pey = max(self._pey, 0.005 * self._pyy)
            self._leak = min(self._pey / self._pyy, 1.0)

    def _step_sizes(self, e_pow: Float64Array, y_pow: Float64Array, see: float, syy: float,
                    x_power: float) -> Float64Array:
        """Per-bin steps: the share of the error that is still echo."""
        if not self.converged:
            # Before the leak means anything: a fixed step, smaller when the error is far
            # louder than the reference could explain (someone talking from the start).
            mu0 = min(self.step, 0.25 * x_power / (see + 1e-10))
            self._adapted += mu0 * self.block / self.sample_rate
            return np.full(len(e_pow), mu0)
        rer = min(max(3.0 * self._leak * syy / (see + 1e-10), 1e-4), 0.5)
        e = e_pow + 1e-10
        r = np.minimum(self._leak * y_pow, 0.5 * e)
        r *= 0.7
        r += 0.3 * rer * e
        r /= e
        r *= 2 * self.step
        return np.minimum(r, self.step, out=r)

    def _adapt(self, mu: Float64Array, xc: Complex128Array, e_spec: Complex128Array,
               with_output: bool) -> Float64Array | None:
        """One step of the background filter; with ``with_output``, returns the suppressed
        output (whose spectrum is in the last row of ``_inverse``), which comes out of the
        same inverse transform."""
        b, p = self.block, self.partitions
        w = self._w_back
        # The step is shared among the partitions in proportion to their RMS.
        flat = w.view(np.float64)
        weights = np.sqrt((flat[:, None, :] @ flat[:, :, None]).reshape(-1))
        weights += 0.1 * float(weights.max()) + 1e-6
        weights *= 1.0 / float(weights.sum())
        # Regularised: bins where the reference is nearly silent must not get huge steps.
        power = self._power + (0.01 / len(self._power) * float(self._power.sum()) + 1e-9)
        gain = np.divide(e_spec, power, out=self._inverse[0])
        gain *= mu
        update = self._inverse[:p]
        np.multiply(xc, gain, out=update)
        update *= weights[:, None]
        update += w
        # The gradient constraint (a linear, not circular, convolution) on every partition,
        # every block: constraining one partition a block, in turn, was measured to diverge
        # on speech, and constraining half of them a block, or all every other block,
        # changed the results by several dB either way.
        taps = np.fft.irfft(self._inverse if with_output else update, 2 * b, axis=1)
        filt = taps[:p]
        filt[:, b:] = 0.0
        np.fft.rfft(filt, axis=1, out=w)
        return taps[p, b:] if with_output else None

    def _jumped(self, delay: int) -> None:
        """The delay estimate moved: re-align; a jump of more than a quarter block means the
        path changed, so a converged filter goes back to the fast, fixed step of a cold start
        (the leak-driven step would take seconds to trust the new error; measured: the worst
        room's re-convergence 3.75 s -> 2.15 s on its own)."""
        old = self.bulk_delay
        self._move_to(delay)
        if 4 * abs(self.bulk_delay - old) > self.block and self.converged:
            self._adapted = 0.0
            self._erl_base = _NO_BASE
            self._pey = self._pyy = 0.0
            self._leak = 1.0

    def _move_to(self, delay: int) -> None:
        """Re-align to a new bulk delay, shifting what the filters learned with it."""
        bulk = min(max(0, delay - self.delay_margin), self._max_bulk)
        shift = bulk - self.bulk_delay
        if shift == 0:
            return
        self.bulk_delay = bulk
        b, p = self.block, self.partitions
        for w in (self._w_fore, self._w_back):
            taps = np.fft.irfft(w, 2 * b, axis=1)[:, :b].reshape(-1)
            moved = np.zeros_like(taps)
            n = len(taps)
            # A move longer than the filter keeps nothing of what it learned (an estimate
            # that falls back from a spurious lock on a long delay can move that far).
            if 0 < shift < n:  # echo arrives later: the response moves earlier in the filter
                moved[: n - shift] = taps[shift:]
            elif 0 < -shift < n:
                moved[-shift:] = taps[: n + shift]
            padded = np.zeros((p, 2 * b))
            padded[:, :b] = moved.reshape(p, b)
            w[:] = np.fft.rfft(padded, axis=1)
        # Rebuild the reference spectra at the new alignment from the reference history.
        hist = self._history.view
        end = len(hist) - bulk
        for i in range(p):  # newest first
            stop = end - i * b
            self._xbuf[0, (self._xi + i) % p] = np.fft.rfft(hist[stop - 2 * b:stop])
        self._xbuf[0, p:] = self._xbuf[0, :p]
        np.conjugate(self._xbuf[0], out=self._xbuf[1])
        self._xpow[:] = self._xbuf[0].real**2 + self._xbuf[0].imag**2
        self._span[:] = self._xpow[:p].sum(axis=0)


class _History:
    """The last ``length`` samples, appended in place: the storage is twice as long and the
    window slides along it, so the samples move once per ``length`` appended rather than on
    every append."""

    def __init__(self, length: int) -> None:
        self.length = length
        self._store: Float64Array = np.zeros(2 * length)
        self._end = length

    @property
    def view(self) -> Float64Array:
        return self._store[self._end - self.length:self._end]

    def append(self, x: Float64Array) -> Float64Array:
        """Append ``x`` (at most ``length`` samples); the history, oldest first."""
        n, store = len(x), self._store
        if self._end + n > len(store):
            keep = self.length - n
            store[:keep] = store[self._end - keep:self._end]
            self._end = keep
        store[self._end:self._end + n] = x
        self._end += n
        return store[self._end - self.length:self._end]
