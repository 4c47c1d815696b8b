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
  applied to one partition per block, in turn.
- **Step control, the double-talk defence**: the ideal step in a bin is the share of the error
  there that is still echo. That share is estimated from how the error's power co-varies with
  the echo estimate's (the "leak"): the user's voice does not follow the echo estimate, so while
  the user talks the error grows, the ratio falls and the filter all but stops learning, instead
  of cancelling the user or drifting away.
- **Two filters**: a background filter adapts; the foreground filter, whose output is used, takes
  the background's coefficients only when the background has done measurably better. A
  background that diverges anyway (a long double talk) is reset from the foreground; the output
  never follows it.

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
"""

from __future__ import annotations

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
_ACTIVE = 1e-6  # reference mean square (full scale 1) above which a block counts as playing


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
        # Reference spectra, newest first in the view _xbuf[_xi : _xi + p]; every spectrum is
        # written twice so that view is always contiguous.
        self._xbuf: Complex128Array = np.zeros((2 * p, bins), dtype=np.complex128)
        self._xi = 0
        self._xpow: Float64Array = np.zeros((2 * p, bins))  # their power, laid out alike
        self._xpow_now: Float64Array = self._xpow[0]
        self._xpow_view: Float64Array = self._xpow[:p]
        self._padded: Float64Array = np.zeros((3, 2 * b))  # first halves stay zero
        # Both filters in one array, so one product and one transform serve both.
        self._w: Complex128Array = np.zeros((2, p, bins), dtype=np.complex128)
        self._w_fore = self._w[0]
        self._w_back = self._w[1]
        self._ref_history: Float64Array = np.zeros(self._max_bulk + (p + 1) * b)
        self._power: Float64Array = np.zeros(bins)
        self._s_dx: Complex128Array = np.zeros(bins, dtype=np.complex128)
        self._s_dd: Float64Array = np.zeros(bins)
        self._s_dy: Complex128Array = np.zeros(bins, dtype=np.complex128)
        self._s_yy: Float64Array = np.zeros(bins)
        self._s_xx: Float64Array = np.zeros(bins)
        self._e_mean: Float64Array = np.zeros(bins)
        self._y_mean: Float64Array = np.zeros(bins)
        self._pey = 0.0
        self._pyy = 0.0
        self._leak = 1.0
        self._adapted = 0.0
        self._d_avg = 0.0
        self._d_var = 0.0
        self._back_worse = 0
        self._s_mic = 0.0
        self._s_out = 0.0
        self._harm = 0
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
        out, residual = self.cancel(frame.samples, frame.reference)
        scaled = np.rint(out * _FULL_SCALE)
        cleaned = np.minimum(np.maximum(scaled, -32768.0, out=scaled), 32767.0,
                             out=scaled).astype(np.int16)
        return EchoResult(AudioFrame(cleaned, frame.sample_rate, frame.timestamp,
                                     reference=frame.reference), residual)

    def cancel(self, mic: npt.ArrayLike, reference: npt.ArrayLike) -> tuple[Float64Array, float]:
        """Cancel on raw int16-scaled samples: ``(cleaned in full scale 1.0, residual echo
        mean square)`` for as many samples as were given."""
        mic = np.asarray(mic)
        n = len(mic)
        b = self.block
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
        b = self.block
        hist = self._ref_history
        hist[:-b] = hist[b:]
        hist[-b:] = x
        end = len(hist) - self.bulk_delay
        return hist[end - 2 * b:end]

    def _push_spectrum(self, spectrum: Complex128Array) -> Complex128Array:
        """Store the newest reference spectrum and its power; the spectra, newest first."""
        p = self.partitions
        i = self._xi = (self._xi - 1) % p
        self._xbuf[i] = spectrum
        self._xbuf[i + p] = spectrum
        power = spectrum.real**2 + spectrum.imag**2
        self._xpow[i] = power
        self._xpow[i + p] = power
        self._xpow_now = power
        self._xpow_view = self._xpow[i:i + p]
        return self._xbuf[i:i + p]

    def _block(self, d: Float64Array, x_new: Float64Array) -> tuple[Float64Array, float]:
        b = self.block
        self.blocks += 1
        if self.delay_estimator is not None and self.delay_estimator.process(x_new, d):
            self._move_to(self.delay_estimator.delay or 0)
        window = self._delayed_window(x_new)
        x_now = window[b:]
        xs = self._push_spectrum(np.fft.rfft(window))
        y_both = np.fft.irfft((self._w * xs).sum(axis=1), 2 * b, axis=1)[:, b:]
        e_both = d - y_both
        # Every energy the block needs from one product: fore/back errors, their cross term.
        gram = e_both @ e_both.T
        e_fore, y_fore = self._choose_filter(e_both, y_both, float(gram[0, 0]),
                                             float(gram[1, 1]), float(gram[0, 1]))
        see = float(np.dot(e_fore, e_fore))
        self._watch_for_harm(float(np.dot(d, d)), see)

        x_power = float(np.dot(x_now, x_now))
        playing = x_power > _ACTIVE * b
        xn_pow = self._xpow_now
        self._power *= 0.7
        self._power += 0.3 * xn_pow
        padded = self._padded
        padded[0, b:] = e_fore
        padded[1, b:] = y_fore
        padded[2, b:] = e_both[1]
        e_spec, y_spec, e_back_spec = np.fft.rfft(padded, axis=1)
        e_pow = e_spec.real**2 + e_spec.imag**2
        y_pow = y_spec.real**2 + y_spec.imag**2
        syy = float(np.dot(y_fore, y_fore))
        self._update_leak(e_pow, y_pow, see, syy)
        if playing:
            mu = self._step_sizes(e_pow, y_pow, see, syy, x_power)
            self._adapt(mu, xs, e_back_spec)
        residual = self._leak * syy / b
        if self.suppressor is not None:
            # The reference's mean power per partition over the filter's span: any of it may
            # still be ringing in the room.
            span_power = self._xpow_view.sum(axis=0) * (1.0 / self.partitions)
            gains = self.suppressor.gains(e_pow, span_power, playing,
                                          self._coherence(e_spec + y_spec, xs[0], xn_pow,
                                                          y_spec, y_pow),
                                          # Until the filter has converged its echo estimate
                                          # means little (the start, after a restart).
                                          1.0 - min(self._adapted, 1.0))
            e_fore = np.fft.irfft(e_spec * gains, 2 * b)[b:]
            residual = float(np.dot(gains * gains, self.suppressor.residual)) / (b * b)
        return e_fore, residual

    def _coherence(self, d_spec: Complex128Array, x_spec: Complex128Array,
                   x_pow: Float64Array, y_spec: Complex128Array,
                   y_pow: Float64Array) -> Float64Array:
        """Per bin, the smoothed magnitude-squared coherence between the microphone and the
        aligned reference: near 1 where the echo dominates, near 0 where the user or noise
        does (neither follows the reference)."""
        a = self.coherence_smoothing
        self._s_dx *= a
        self._s_dx += (1 - a) * (d_spec * x_spec.conj())
        self._s_dd *= a
        self._s_dd += (1 - a) * (d_spec.real**2 + d_spec.imag**2)
        self._s_xx *= a
        self._s_xx += (1 - a) * x_pow
        self._s_dy *= a
        self._s_dy += (1 - a) * (d_spec * y_spec.conj())
        self._s_yy *= a
        self._s_yy += (1 - a) * y_pow
        c = (self._s_dx.real**2 + self._s_dx.imag**2) / (self._s_dd * self._s_xx + 1e-20)
        cy = (self._s_dy.real**2 + self._s_dy.imag**2) / (self._s_dd * self._s_yy + 1e-20)
        return np.asarray(np.maximum(c, cy), dtype=np.float64)

    def _choose_filter(self, e_both: Float64Array, y_both: Float64Array, sff: float,
                       see: float, cross: float) -> tuple[Float64Array, Float64Array]:
        """Promote the background filter when it does measurably better; reset it when it
        does much worse. Returns the output error and echo estimate to use for this block."""
        dbf = max(sff + see - 2.0 * cross, 0.0) + 1e-12
        gain = sff - see
        self._d_avg = 0.6 * self._d_avg + 0.4 * gain
        self._d_var = 0.36 * self._d_var + 0.16 * sff * dbf
        # Better by more than the two outputs' difference could explain by chance, in this
        # block or over the last few.
        if gain * abs(gain) > sff * dbf or self._d_avg * abs(self._d_avg) > 2 * self._d_var:
            self._w_fore[:] = self._w_back
            self.foreground_updates += 1
            self._d_avg = self._d_var = 0.0
            self._back_worse = 0
            return e_both[1], y_both[1]
        if -gain > 4 * sff and see > 1e-9:
            self._back_worse += 1
            if self._back_worse >= 3:
                self._w_back[:] = self._w_fore
                self.background_resets += 1
                self._back_worse = 0
                self._d_avg = self._d_var = 0.0
        else:
            self._back_worse = 0
        return e_both[0], y_both[0]

    def _watch_for_harm(self, sdd: float, sff: float) -> None:
        """A filter whose output is louder than its input is subtracting an echo that is not
        there (the path changed, or it diverged): start again from nothing, fast. Takes the
        block's input and output energies."""
        self._s_mic = 0.8 * self._s_mic + 0.2 * sdd
        self._s_out = 0.8 * self._s_out + 0.2 * sff
        if self._s_out > 1.5 * self._s_mic and self._s_mic > _ACTIVE * self.block:
            self._harm += 1
        else:
            self._harm = 0
        if self._harm >= 5:
            if self.suppressor is not None:
                self.suppressor.reset()
            self._w_fore[:] = 0.0
            self._w_back[:] = 0.0
            self._adapted = 0.0
            self._pey = self._pyy = 0.0
            self._leak = 1.0
            self._harm = 0
            self.restarts += 1

    def _update_leak(self, e_pow: Float64Array, y_pow: Float64Array, see: float,
                     syy: float) -> None:
        """Track how much of the echo estimate's power still shows in the error: the
        covariance of their fluctuations over their variance."""
        self._e_mean = 0.95 * self._e_mean + 0.05 * e_pow
        self._y_mean = 0.95 * self._y_mean + 0.05 * y_pow
        de = e_pow - self._e_mean
        dy = y_pow - self._y_mean
        rate = self.block / self.sample_rate
        alpha = min(2 * rate * syy / (see + 1e-10), 0.5 * rate)
        self._pey = (1 - alpha) * self._pey + alpha * float(np.dot(de, dy))
        self._pyy = (1 - alpha) * self._pyy + alpha * float(np.dot(dy, dy))
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
        mu = (0.7 * r + 0.3 * rer * e) / e
        return np.asarray(np.minimum(mu * 2 * self.step, self.step), dtype=np.float64)

    def _adapt(self, mu: Float64Array, xs: Complex128Array, e_spec: Complex128Array) -> None:
        b = self.block
        w = self._w_back
        flat = w.view(np.float64)
        weights = np.sqrt(np.einsum("pk,pk->p", flat, flat))
        weights += 0.1 * float(weights.max()) + 1e-6
        weights *= 1.0 / float(weights.sum())
        # Regularised: bins where the reference is nearly silent must not get huge steps.
        power = self._power + (0.01 * float(self._power.sum()) / len(self._power) + 1e-9)
        gain = mu * e_spec / power
        # The gradient constraint (a linear, not circular, convolution) on every partition,
        # every block: constraining one partition a block, in turn, was measured to diverge
        # on speech, and every other block changed the results by several dB either way.
        taps = np.fft.irfft(w + weights[:, None] * (xs.conj() * gain), 2 * b, axis=1)
        taps[:, b:] = 0.0
        w[:] = np.fft.rfft(taps, axis=1)

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
            if shift > 0:  # echo arrives later: the response moves earlier in the filter
                moved[: max(0, len(taps) - shift)] = taps[shift:]
            else:
                moved[-shift:] = taps[: len(taps) + shift]
            padded = np.zeros((p, 2 * b))
            padded[:, :b] = moved.reshape(p, b)
            w[:] = np.fft.rfft(padded, axis=1)
        # Rebuild the reference spectra at the new alignment from the reference history.
        hist = self._ref_history
        end = len(hist) - bulk
        for i in range(p):  # newest first
            stop = end - i * b
            self._xbuf[(self._xi + i) % p] = np.fft.rfft(hist[stop - 2 * b:stop])
        self._xbuf[p:] = self._xbuf[:p]
        self._xpow[:] = self._xbuf.real**2 + self._xbuf.imag**2
