"""The echo benchmark: its metrics on signals with known answers, its rooms, its verdicts, and a
quick run end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtalk.audio import read_wav

# The benchmarks folder is not a package. Its echo.py is loaded from its path under a name of
# its own ("echo" alone could find the tests/echo folder), with the folder on the path only while
# it imports its metrics module, so that the folder's other files cannot shadow anything later.
_BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(_BENCHMARKS))
try:
    import echo_metrics as metrics

    _spec = importlib.util.spec_from_file_location("echo_bench", _BENCHMARKS / "echo.py")
    assert _spec is not None and _spec.loader is not None
    bench = importlib.util.module_from_spec(_spec)
    sys.modules["echo_bench"] = bench  # attrs and dataclass machinery look the module up
    _spec.loader.exec_module(bench)
finally:
    sys.path.remove(str(_BENCHMARKS))

RATE = 16_000


def _noise(seconds: float, seed: int = 0, level: float = 0.1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(round(seconds * RATE)) * level


def _seconds(t: float) -> int:
    return round(t * RATE)


# ---------------------------------------------------------------------------------------------
# Metrics


def test_erle_of_a_20_db_attenuation_is_20_db() -> None:
    """ERLE is mic energy over output energy: exactly 20 dB for a 0.1 gain, 0 for none."""
    mic = _noise(1.0)
    assert metrics.erle_db(mic, 0.1 * mic) == pytest.approx(20.0)
    assert metrics.erle_db(mic, mic) == pytest.approx(0.0)
    assert metrics.erle_db(mic, np.zeros_like(mic)) == metrics.ERLE_CAP_DB
    as_int16 = np.rint(mic * 32768.0).astype(np.int16)
    quieter = np.rint(mic * 3276.8).astype(np.int16)
    assert metrics.erle_db(as_int16, quieter) == pytest.approx(20.0, abs=0.01)


def test_segmental_erle_keeps_only_far_end_single_talk() -> None:
    """Windows where the far end is silent, or where the user talks, are left out; the rest
    show the 20 dB attenuation."""
    speaker = _noise(4.0)
    speaker[_seconds(1.0) : _seconds(1.5)] = 0.0
    user = np.zeros_like(speaker)
    user[_seconds(2.5) : _seconds(3.0)] = _noise(0.5, seed=1)
    mic = 0.5 * speaker + user
    seg = metrics.segmental_erle(mic, 0.1 * mic, speaker, user, RATE)
    starts, ends = seg.starts_s, seg.starts_s + seg.window_s
    assert np.allclose(seg.erle_db, 20.0)
    assert not np.any((starts >= 1.0 - 1e-9) & (ends <= 1.5 + 1e-9))  # far end silent
    assert not np.any((starts < 3.0) & (ends > 2.5))  # the user talks
    assert starts[0] == 0.0
    assert np.any(np.isclose(starts, 3.0))
    assert np.any(np.isclose(starts, 0.95))  # 50 ms of far end is enough to count


def _converging(dip: bool) -> metrics.SegmentalErle:
    """Echo passes untouched for 2 s, then is cut by 40 dB, except (``dip``) in 2.5-2.6 s."""
    speaker = _noise(5.0)
    gain = np.ones_like(speaker)
    gain[_seconds(2.0) :] = 0.01
    if dip:
        gain[_seconds(2.5) : _seconds(2.6)] = 1.0
    return metrics.segmental_erle(speaker, speaker * gain, speaker, np.zeros_like(speaker), RATE)


def test_convergence_time_is_when_the_threshold_is_reached_and_held() -> None:
    """The first window wholly after the cut ends at 2.25 s; a dip at 2.5-2.6 s pushes the
    held convergence to the first window after it, which ends at 2.85 s."""
    assert _converging(dip=False).time_to_reach(0.0, 5.0, 20.0) == pytest.approx(2.25)
    dipped = _converging(dip=True)
    assert dipped.time_to_reach(0.0, 5.0, 20.0, hold_s=1.0) == pytest.approx(2.85)
    assert dipped.time_to_reach(0.0, 5.0, 20.0, hold_s=0.2) == pytest.approx(2.25)
    assert dipped.time_to_reach(1.0, 5.0, 20.0, hold_s=1.0) == pytest.approx(1.85)  # from 1 s
    assert dipped.time_to_reach(0.0, 5.0, 50.0) is None


def test_erle_at_a_time_and_median_over_a_span() -> None:
    """``ending_at`` reads the window that ends there; ``median_between`` the windows inside."""
    seg = _converging(dip=False)
    assert seg.ending_at(1.0) == pytest.approx(0.0)
    assert seg.ending_at(2.5) == pytest.approx(40.0)
    assert seg.ending_at(1.01) is None  # off the 50 ms grid
    assert seg.median_between(3.0, 5.0) == pytest.approx(40.0)
    assert seg.median_between(0.0, 2.0) == pytest.approx(0.0)
    assert seg.median_between(6.0, 7.0) is None


def test_shift_moves_a_signal_earlier_or_later() -> None:
    """``shift(x, lag)[n] == x[n + lag]``, zero-filled."""
    x = np.arange(1.0, 6.0)
    assert list(metrics.shift(x, 2)) == [3.0, 4.0, 5.0, 0.0, 0.0]
    assert list(metrics.shift(x, -1)) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert list(metrics.shift(x, 0)) == list(x)


@pytest.mark.parametrize("lag", [37, -21, 0, 480])
def test_best_lag_finds_a_known_lag(lag: int) -> None:
    """A copy delayed by ``lag`` samples (negative: advanced) is found at that lag."""
    s = _noise(1.0)
    e = 0.3 * metrics.shift(s, -lag)  # e[n + lag] = 0.3 * s[n]
    assert metrics.best_lag(e, s, 480) == lag


def test_si_sdr_of_a_scaled_copy_is_very_high_and_of_a_noisy_one_is_its_snr() -> None:
    """SI-SDR ignores scale; added independent noise 20 dB down gives about 20 dB."""
    s = _noise(2.0)
    assert metrics.si_sdr_db(0.25 * s, s) >= 99.0
    noisy = 0.5 * s + 0.05 * _noise(2.0, seed=7)
    assert metrics.si_sdr_db(noisy, s) == pytest.approx(20.0, abs=0.2)
    assert metrics.si_sdr_db(np.zeros_like(s), s) < 0.0


def test_aligned_si_sdr_undoes_a_canceller_latency() -> None:
    """An output 100 samples late and 6 dB down scores as well as an aligned one, reports the
    lag and the level; without the alignment it would score far lower."""
    user = np.zeros(_seconds(3.0))
    start, stop = _seconds(1.0), _seconds(2.0)
    user[start:stop] = _noise(1.0, seed=3)
    late = 0.5 * metrics.shift(user, -100) + 0.001 * _noise(3.0, seed=4)
    aligned = metrics.aligned_si_sdr(late, user, start, stop, max_lag=480)
    assert aligned.lag == 100
    assert aligned.si_sdr_db > 30.0
    assert aligned.gain_db == pytest.approx(-6.02, abs=0.05)
    assert metrics.si_sdr_db(late[start:stop], user[start:stop]) < 0.0


def test_real_time_factor() -> None:
    """CPU seconds per audio second; undefined without audio."""
    assert metrics.real_time_factor(0.5, 50.0) == pytest.approx(0.01)
    assert metrics.real_time_factor(1.0, 0.0) is None


# ---------------------------------------------------------------------------------------------
# Rooms and verdicts


def test_a_room_has_the_asked_echo_to_speech_ratio_and_exact_ground_truth() -> None:
    """The rendered mic is echo + user + noise (to int16 rounding); the user talks only in the
    double-talk span; the echo is as much louder than the user as the room says; a whole
    number of frames; the same every time."""
    scenario = next(s for s in bench.SCENARIOS if s.name == "hall_loud")
    rec = bench.render(scenario, bench.QUICK, RATE, frame=320)
    again = bench.render(scenario, bench.QUICK, RATE, frame=320)
    assert np.array_equal(rec.mic, again.mic)
    assert len(rec.mic) % 320 == 0
    assert len(rec.speaker) == len(rec.mic) == len(rec.user)
    total = rec.echo + rec.user + rec.noise
    assert np.max(np.abs(rec.mic / 32768.0 - total)) <= 1.0 / 32768.0
    assert not np.any(rec.user[: rec.dt_start]) and not np.any(rec.user[rec.dt_stop :])
    assert rec.dt_start == round(bench.QUICK.dt_start_s * RATE)
    echo_level = bench.active_level_dbfs(rec.echo, RATE)
    user_level = bench.active_level_dbfs(rec.user[rec.dt_start : rec.dt_stop], RATE)
    assert user_level == pytest.approx(bench.USER_DBFS, abs=0.1)
    assert echo_level - user_level == pytest.approx(scenario.echo_to_speech_db, abs=1.5)
    assert rec.clipped == 0


def test_the_speaker_starts_with_speech_and_the_path_changes_on_time() -> None:
    """The far end is talking during the first second (ERLE at 1 s needs it), and the echo
    arrives later after the change (25 ms -> hence a longer gap before its onset)."""
    scenario = next(s for s in bench.SCENARIOS if s.name == "small_clean")
    rec = bench.render(scenario, bench.QUICK, RATE, frame=320)
    first_second = rec.speaker[:RATE].astype(np.float64) / 32768.0
    assert 10 * np.log10(np.mean(first_second**2)) > metrics.FAR_ACTIVE_DBFS
    assert rec.change_s == bench.QUICK.converge_s
    # The echo's onset: the direct sound arrives after the first path's bulk delay.
    onset = int(np.flatnonzero(np.abs(rec.echo) > 1e-9)[0])
    first_sound = int(np.flatnonzero(rec.speaker)[0])
    assert onset - first_sound == scenario.path.delay_samples(RATE)


def _room(steady: float | None, reconverge: float | None = 0.5) -> dict[str, Any]:
    return {"erle_db_steady": steady, "erle_db_1s": 25.0, "reconverge_s": reconverge,
            "dt_sisdr_gain_db": 1.0, "diverged": False}


def test_goals_compare_with_the_best_reference_room_by_room() -> None:
    """Beating each reference on average is not enough: in every room the steady ERLE must
    reach the best reference's there; a room that never re-converged fails that goal."""
    report: dict[str, dict[str, Any]] = {
        "realtalk": {"detail": {"a": _room(31.0), "b": _room(24.0)}, "rtf": 0.004,
                     "erle_db_steady_noise_free": 31.0},
        "speex": {"detail": {"a": _room(30.0), "b": _room(10.0)}},
        "webrtc_aec3": {"detail": {"a": _room(20.0), "b": _room(25.0)}},
        "speex_mdf": {"skipped": "not installed"},
    }
    verdict = bench.goals("realtalk", report)
    assert verdict["erle_steady_ge_best_reference"] is False  # room b: 24 < 25
    assert verdict["erle_noise_free_ge_30db"] is True
    assert verdict["reconverge_le_1s"] is True
    assert verdict["rtf_le_0.01"] is True
    report["realtalk"]["detail"]["b"] = _room(25.0, reconverge=None)
    verdict = bench.goals("realtalk", report)
    assert verdict["erle_steady_ge_best_reference"] is True
    assert verdict["reconverge_le_1s"] is False
    del report["speex"], report["webrtc_aec3"]
    assert bench.goals("realtalk", report)["erle_steady_ge_best_reference"] is None


def test_a_missing_canceller_is_skipped_with_the_reason() -> None:
    """A class that cannot be imported is reported as skipped, headline figures null."""
    lines: list[str] = []
    report = bench.bench(quick=True, contenders=["realtalk", "none"],
                         canceller="realtalk.echo:NoSuchCanceller", log=lines.append)
    assert report["realtalk"]["skipped"] == "realtalk.echo.NoSuchCanceller does not exist yet"
    assert all(report["realtalk"][key] is None for key in
               ("erle_db_steady", "erle_db_1s", "reconverge_s", "dt_sisdr_gain_db", "rtf"))
    assert "realtalk: skipped" in lines[1]
    assert "skipped" not in report["none"]


def test_the_bench_runs_without_the_reference_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pyaec and livekit the references are skipped with the install hint, and the
    goal that compares with them cannot be judged."""
    monkeypatch.setitem(sys.modules, "pyaec", None)  # None in sys.modules: the import fails
    monkeypatch.setitem(sys.modules, "livekit.rtc", None)
    report = bench.bench(quick=True, contenders=["none", "speex", "speex_mdf", "webrtc_aec3"],
                         log=lambda _: None)
    for name in ("speex", "speex_mdf", "webrtc_aec3"):
        assert report[name]["skipped"].endswith("pip install 'realtalk[bench]'"), name
        assert report[name]["erle_db_steady"] is None
    assert report["none"]["goals"]["erle_steady_ge_best_reference"] is None


# ---------------------------------------------------------------------------------------------
# End to end


def test_quick_run_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--quick`` runs every contender; the last line is the JSON report; the raw mic
    ("none") removes nothing: 0 dB ERLE, no convergence, no change to the user's voice."""
    bench.main(["--quick", "--no-chain", "--wav", str(tmp_path)])
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads(lines[-1])
    assert {"realtalk", "none", "speex", "webrtc_aec3"} <= set(report)
    assert "chain" not in report  # --no-chain (the chain's figures are tested in sim/)
    none = report["none"]
    assert none["erle_db_steady"] == pytest.approx(0.0, abs=0.01)
    assert none["erle_db_1s"] == pytest.approx(0.0, abs=0.01)
    assert none["reconverge_s"] is None
    assert none["dt_sisdr_gain_db"] == 0.0
    assert none["diverged_rooms"] == []
    assert none["latency_ms"] == 0.0
    assert none["near_only_sisdr_db"] == metrics.ERLE_CAP_DB
    assert 0.0 <= none["rtf"] < 0.01
    assert none["goals"]["erle_1s_ge_20db"] is False
    for name, row in report.items():
        if "skipped" not in row:
            assert set(row["detail"]) == {"office_noisy"}, name
    if "skipped" not in report["speex"]:
        # A real canceller, measured by the same harness, does remove echo.
        assert report["speex"]["erle_db_steady"] > 6.0

    mic, rate = read_wav(tmp_path / "office_noisy_mic.wav")
    out, _ = read_wav(tmp_path / "office_noisy_none.wav")
    speaker, _ = read_wav(tmp_path / "office_noisy_speaker.wav")
    assert rate == RATE
    assert np.array_equal(mic, out)
    assert len(speaker) == len(mic) > 8 * RATE
