"""Echo control: what keeps the assistant's own voice from being taken for the user.

- :class:`EchoGate`: the playback-aware gate the barge-in detector uses.
"""

from .gate import EchoGate

__all__ = ("EchoGate",)
