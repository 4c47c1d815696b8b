"""The conversation simulator: a virtual clock, a virtual room, a scripted user, and an offline
driver that runs a whole conversation faster than real time, the same way every run.

Used by the tests, ``realtalk demo`` and the benchmarks; usable by apps to test their own
interruption handling in CI without a microphone.
"""

from .clock import VirtualClock
from .device import SimulatedDevice
from .driver import Simulation, SimulationResult, UserSpoke
from .oracle import OracleTranscriber, OracleTranscript
from .room import EchoPath, Room, RoomConfig, RoomSignals
from .signals import (
    Clip,
    SignalGenerator,
    babble,
    click,
    clips,
    cough,
    load_clip,
    pink_noise,
    rms_dbfs,
    scale_to_dbfs,
    speech_like,
    white_noise,
)
from .user import ScriptedUser, Utterance

__all__ = (
    "VirtualClock",
    "SimulatedDevice",
    "Simulation",
    "SimulationResult",
    "UserSpoke",
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
    "click",
    "cough",
    "rms_dbfs",
    "scale_to_dbfs",
)
