"""The conversation simulator: a virtual clock, a virtual room, a scripted user, and an offline
driver that runs a whole conversation faster than real time, the same way every run.

Used by the tests, ``realtalk demo`` and the benchmarks; usable by apps to test their own
interruption handling in CI without a microphone.
"""

from .clock import VirtualClock
from .device import SimulatedDevice
from .driver import EchoPathChanged, PathChange, Simulation, SimulationResult, UserSpoke
from .oracle import OracleTranscriber, OracleTranscript
from .room import EchoPath, Room, RoomConfig, RoomSignals
from .signals import (
    UNSEEN_DIR,
    Clip,
    SignalGenerator,
    babble,
    click,
    clips,
    cough,
    keyboard,
    load_clip,
    pink_noise,
    rms_dbfs,
    scale_to_dbfs,
    speech_like,
    talker_babble,
    white_noise,
)
from .user import ScriptedUser, Utterance

__all__ = (
    "VirtualClock",
    "SimulatedDevice",
    "Simulation",
    "SimulationResult",
    "UserSpoke",
    "PathChange",
    "EchoPathChanged",
    "OracleTranscriber",
    "OracleTranscript",
    "Room",
    "RoomConfig",
    "RoomSignals",
    "EchoPath",
    "ScriptedUser",
    "Utterance",
    "Clip",
    "clips",
    "load_clip",
    "SignalGenerator",
    "speech_like",
    "white_noise",
    "pink_noise",
    "babble",
    "talker_babble",
    "click",
    "cough",
    "keyboard",
    "UNSEEN_DIR",
    "rms_dbfs",
    "scale_to_dbfs",
)
