"""Generate the real-speech clips shipped in ``src/realtalk/sim/speech/``, with espeak-ng and sox.

Usage::

    apt-get install -y espeak-ng sox      # Debian/Ubuntu
    python scripts/make_speech_clips.py   # rewrites src/realtalk/sim/speech/*.wav and manifest.json
    python scripts/make_speech_clips.py --set unseen   # rewrites src/realtalk/sim/speech/unseen/
    python scripts/make_speech_clips.py --set backchannel  # rewrites .../speech/backchannel/

The ``unseen`` set holds voices and sentences that nothing was tuned on: users who barge in
(``kind="speech"``, at 24 kHz only, the barge-in benchmark's rate) and longer background
talkers for babble (``kind="talker"``, at 16 kHz only: ``talker_babble`` resamples them), so
that the set stays small.

The ``backchannel`` set (24 kHz only) holds what a listener says while the assistant talks:
backchannels that should not stop it (``kind="backchannel"``: "yeah", "mm-hmm", "got it", ...)
and interruptions that should (``kind="interruption"``), each with a ``subkind``: ``short``
("stop", "no, wait"), ``long`` (a question or correction of 1-2.5 s) or ``hard`` (an
interruption that opens like a backchannel: "yeah, but what about Tuesday?"). Every phrase is
spoken by one or two of eight voice/speed/pitch variants; the manifest records each clip's
``subkind``, ``speed_wpm`` and ``pitch`` beside its text and voice. ``benchmarks/backchannel.py``
runs on it.

Each clip is rendered once by espeak-ng (22.05 kHz); sox trims its leading and trailing silence,
resamples it to 16 kHz and 24 kHz (``rate -v``) and normalises the peak to -3 dBFS (after
resampling, so the stored peak is exact), as mono PCM16. Two non-speech events (a click and a
cough-like noise burst) are synthesised by sox itself, directly at each rate.

The output is deterministic: espeak-ng has no randomness, and sox runs with ``-R`` (fixed seed
for its noise generators) and ``-D`` (no dither), so re-running the script with the same tool
versions reproduces the files byte for byte. The tool versions are recorded in the manifest.

The clips are committed, so tests never need espeak-ng or sox; only this script does.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import attrs

RATES = (16_000, 24_000)
PEAK_DBFS = -3.0
OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "realtalk" / "sim" / "speech"
UNSEEN_DIR = OUT_DIR / "unseen"
BACKCHANNEL_DIR = OUT_DIR / "backchannel"
UNSEEN_RATES = (24_000,)
TALKER_RATES = (16_000,)  # background babble needs no more bandwidth; it is resampled on use

# Trim anything quieter than 0.3% of full scale that lasts 20 ms or more at either end.
_TRIM = ("silence", "1", "0.02", "0.3%", "reverse", "silence", "1", "0.02", "0.3%", "reverse")


@attrs.frozen
class SpeechSpec:
    """One sentence spoken by one espeak-ng voice."""

    name: str
    text: str
    voice: str
    speed_wpm: int = 170
    pitch: int = 50
    kind: str = "speech"
    subkind: str = ""  # the backchannel set's short, long or hard (interruptions)
    say: str = ""  # what espeak-ng is given, when it is not ``text`` (phonemes for "mm-hmm")


@attrs.frozen
class EventSpec:
    """One non-speech event built from sox effects (``-n`` input, so ``synth`` comes first)."""

    name: str
    kind: str
    effects: str  # a sox effects chain, space-separated


SPEECH: tuple[SpeechSpec, ...] = (
    SpeechSpec("wait_stop", "Wait, stop.", "en-us", 175),
    SpeechSpec("sorry_can_i_ask", "Sorry, can I ask something?", "en-gb", 170),
    SpeechSpec("hold_on", "Hold on a second.", "en+f3", 170, 60),
    SpeechSpec("not_what_i_meant", "No, that's not what I meant.", "en+m3", 175),
    SpeechSpec("weather_tomorrow", "What's the weather like tomorrow?", "en-us+f2", 170, 55),
    SpeechSpec("repeat_that", "Can you repeat that?", "en-gb-scotland", 165),
    SpeechSpec("never_mind", "Actually, never mind.", "en+m7", 170, 40),
    SpeechSpec("yes_please", "Yes, please.", "en-us+f4", 165, 65),
    SpeechSpec("how_long", "How long will it take to get there?", "en-gb-x-rp", 175),
    SpeechSpec(
        "forecast",  # an assistant-style sentence: far-end speech for echo tests
        "The forecast for Saturday is sunny, with a light breeze.",
        "en-us",
        180,
    ),
)

# Voices, variants and sentences the default clips do not use: other accents, klatt and
# formant variants, other pitches and speeds; the talkers speak longer, unrelated sentences.
UNSEEN_SPEECH: tuple[SpeechSpec, ...] = (
    SpeechSpec("excuse_me", "Excuse me, one thing.", "en-029+f1", 160, 62),
    SpeechSpec("stop_there", "Okay, stop there.", "en-us-nyc+m4", 185, 38),
    SpeechSpec("wrong_city", "No, the other city.", "en-gb-x-gbclan+f5", 165, 70),
    SpeechSpec("let_me_talk", "Let me say something.", "en-gb-x-gbcwmd+klatt", 170, 45),
    SpeechSpec("too_fast", "You're going too fast.", "en-us+croak", 175, 30),
    SpeechSpec("which_one", "Which one do you mean?", "en+klatt4", 155, 75),
    SpeechSpec("hang_on_quick", "Hang on.", "en-gb+m2", 190, 50),
    SpeechSpec("change_order", "Can I change my order?", "en-us+f5", 170, 80),
)
UNSEEN_TALKERS: tuple[SpeechSpec, ...] = (
    SpeechSpec("talker_train", "The train was late again, so I missed the meeting.",
               "en-gb+m3", 165, 45, "talker"),
    SpeechSpec("talker_garden", "We planted tomatoes, but the snails got most of them.",
               "en-us+f3", 170, 65, "talker"),
    SpeechSpec("talker_match", "Did you see the match? They scored twice at the end.",
               "en-029+m1", 180, 40, "talker"),
    SpeechSpec("talker_recipe", "Fry the onions first, then add the rice and stir.",
               "en-gb-scotland+f2", 160, 60, "talker"),
    SpeechSpec("talker_flat", "The new flat is smaller, but it gets the afternoon sun.",
               "en-us-nyc+m7", 175, 35, "talker"),
)

# The backchannel set: eight voice/speed/pitch variants, none of them the default set's, taken
# in turn so that each kind of phrase meets every voice and a slow, a middle and a fast speed.
BACKCHANNEL_VOICES: tuple[tuple[str, int, int], ...] = (
    ("en-us", 175, 50),
    ("en-gb+f3", 150, 62),
    ("en-us+m3", 200, 42),
    ("en-gb-scotland+f2", 160, 58),
    ("en-us-nyc+f4", 190, 66),
    ("en+m7", 165, 38),
    ("en-029+m1", 185, 48),
    ("en-gb-x-rp+f5", 170, 70),
)
# (name, text, what espeak-ng says when the spelling would be read out letter by letter)
BACKCHANNELS: tuple[tuple[str, str, str], ...] = (
    ("yeah", "Yeah.", ""),
    ("uh_huh", "Uh huh.", ""),
    ("right", "Right.", ""),
    ("got_it", "Got it.", ""),
    ("mm_hmm", "Mm-hmm.", "[[@m'h@m]]"),
    ("okay", "Okay.", ""),
    ("sure", "Sure.", ""),
    ("i_see", "I see.", ""),
    ("yep", "Yep.", ""),
    ("oh_okay", "Oh, okay.", ""),
    ("exactly", "Exactly.", ""),
    ("alright", "Alright.", ""),
    ("makes_sense", "Makes sense.", ""),
    ("cool", "Cool.", ""),
)
SHORT_INTERRUPTIONS: tuple[tuple[str, str], ...] = (
    ("stop", "Stop."),
    ("no", "No."),
    ("wait", "Wait."),
    ("hang_on", "Hang on."),
    ("no_wait", "No, wait."),
)
LONG_INTERRUPTIONS: tuple[tuple[str, str], ...] = (
    ("which_day", "Wait, which day was that?"),
    ("repeat_price", "Hold on, can you repeat the price?"),
    ("missed_address", "Sorry, I didn't catch the address."),
    ("second_step", "Can you go back to the second step?"),
    ("by_friday", "Actually, I need it by Friday."),
    ("train_not_bus", "No, the train, not the bus."),
    ("basic_plan", "What do you mean by the basic plan?"),
    ("grab_a_pen", "Hang on, let me get a pen."),
)
# Interruptions that open like a backchannel: the first word alone would keep the reply going.
HARD_INTERRUPTIONS: tuple[tuple[str, str], ...] = (
    ("yeah_but_tuesday", "Yeah, but what about Tuesday?"),
    ("okay_wait", "Okay, wait a second."),
    ("right_and_cost", "Right, and what about the cost?"),
    ("sure_but_how_long", "Sure, but how long?"),
    ("mm_hmm_no_wait", "Mm-hmm, no, wait."),
)


def backchannel_specs() -> tuple[SpeechSpec, ...]:
    """The backchannel set: each backchannel and short interruption in two variants, each
    long and hard interruption in one (they are the longer clips), named ``<phrase>_<v>``
    with ``v`` the variant's index in :data:`BACKCHANNEL_VOICES`."""
    n = len(BACKCHANNEL_VOICES)

    def spec(name: str, text: str, variant: int, kind: str, *, subkind: str = "",
             say: str = "") -> SpeechSpec:
        voice, speed, pitch = BACKCHANNEL_VOICES[variant % n]
        return SpeechSpec(f"{name}_{variant % n}", text, voice, speed, pitch, kind, subkind, say)

    specs: list[SpeechSpec] = []
    for i, (name, text, say) in enumerate(BACKCHANNELS):
        specs += [spec(name, text, v, "backchannel", say=say) for v in (i, i + 3)]
    for i, (name, text) in enumerate(SHORT_INTERRUPTIONS):
        specs += [spec(name, text, v, "interruption", subkind="short") for v in (i + 1, i + 5)]
    specs += [spec(name, text, i + 2, "interruption", subkind="long")
              for i, (name, text) in enumerate(LONG_INTERRUPTIONS)]
    specs += [spec(name, text, i + 6, "interruption", subkind="hard",
                   say="[[@m'h@m]], no, wait." if name.startswith("mm_hmm") else "")
              for i, (name, text) in enumerate(HARD_INTERRUPTIONS)]
    return tuple(specs)


EVENTS: tuple[EventSpec, ...] = (
    # A click: a 4 ms white-noise burst with a 0.5 ms attack and a fast decay.
    EventSpec(
        "click",
        "click",
        "synth 0.004 whitenoise fade q 0.0005 0.004 0.0035 pad 0 0.004",
    ),
    # A cough: a band-limited pink-noise burst (10 ms attack, ~250 ms decay), heard twice.
    EventSpec(
        "cough",
        "cough",
        "synth 0.28 pinknoise bandpass 1100 1.5o highpass 250 "
        "fade q 0.01 0.28 0.25 pad 0 0.09 repeat 1",
    ),
)


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr}")


def _tool_version(cmd: list[str]) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    line = out.strip().splitlines()[0] if out.strip() else "unknown"
    return " ".join(line.split("  Data at")[0].split())


def _duration_ms(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return round(wav.getnframes() * 1000.0 / wav.getframerate(), 2)


def _sox_out(rate: int) -> list[str]:
    return ["-r", str(rate), "-b", "16", "-c", "1", "-e", "signed-integer"]


def _make_speech(
    spec: SpeechSpec, tmp: Path, out_dir: Path, rates: tuple[int, ...] = RATES
) -> list[dict[str, object]]:
    raw = tmp / f"{spec.name}.wav"
    voice_args = ["-v", spec.voice, "-s", str(spec.speed_wpm), "-p", str(spec.pitch)]
    _run(["espeak-ng", *voice_args, "-w", str(raw), spec.say or spec.text])
    entries: list[dict[str, object]] = []
    for rate in rates:
        out = out_dir / f"{spec.name}_{rate // 1000}k.wav"
        _run(
            [
                "sox",
                "-R",
                "-D",
                str(raw),
                *_sox_out(rate),
                str(out),
                *_TRIM,
                "rate",
                "-v",
                str(rate),
                "gain",
                "-n",
                str(PEAK_DBFS),
            ]
        )
        entry = _entry(out, spec.name, spec.text, spec.voice, rate=rate, kind=spec.kind)
        if spec.kind in ("backchannel", "interruption"):
            entry.update(subkind=spec.subkind, speed_wpm=spec.speed_wpm, pitch=spec.pitch)
        entries.append(entry)
    return entries


def _make_event(spec: EventSpec, out_dir: Path) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    for rate in RATES:
        out = out_dir / f"{spec.name}_{rate // 1000}k.wav"
        _run(
            [
                "sox",
                "-R",
                "-D",
                "-r",
                str(rate),
                "-n",
                *_sox_out(rate),
                str(out),
                *spec.effects.split(),
                "gain",
                "-n",
                str(PEAK_DBFS),
            ]
        )
        entries.append(_entry(out, spec.name, "", "sox", rate=rate, kind=spec.kind))
    return entries


def _entry(
    path: Path, name: str, text: str, voice: str, *, rate: int, kind: str
) -> dict[str, object]:
    return {
        "file": path.name,
        "name": name,
        "text": text,
        "voice": voice,
        "rate": rate,
        "duration_ms": _duration_ms(path),
        "kind": kind,
    }


def main(argv: list[str] | None = None) -> int:
    """Render every clip and write the manifest; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--set", choices=("default", "unseen", "backchannel"), default="default",
                        help="which clips: the default set, the unseen voices and talkers, or "
                             "the backchannels and interruptions")
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    args = parser.parse_args(argv)
    which: str = args.set
    out_dir: Path = args.out or {"default": OUT_DIR, "unseen": UNSEEN_DIR,
                                 "backchannel": BACKCHANNEL_DIR}[which]
    speech = {"default": SPEECH, "unseen": UNSEEN_SPEECH + UNSEEN_TALKERS,
              "backchannel": backchannel_specs()}[which]
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found; install it (Debian: apt-get install -y espeak-ng sox)")
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.wav"):
        old.unlink()

    entries: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in speech:
            rates: tuple[int, ...] = RATES if which == "default" else (
                TALKER_RATES if spec.kind == "talker" else UNSEEN_RATES)
            entries.extend(_make_speech(spec, Path(tmp), out_dir, rates))
    for event in EVENTS if which == "default" else ():
        entries.extend(_make_event(event, out_dir))

    manifest = {
        "generator": "scripts/make_speech_clips.py"
        + ("" if which == "default" else f" --set {which}"),
        "tools": {
            "espeak-ng": _tool_version(["espeak-ng", "--version"]),
            "sox": _tool_version(["sox", "--version"]),
        },
        "format": "WAV PCM16 mono, peak normalised to -3 dBFS, silence trimmed",
        "clips": entries,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum((out_dir / str(e["file"])).stat().st_size for e in entries)
    print(f"wrote {len(entries)} clips ({total / 1024:.0f} KiB) and manifest.json to {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
