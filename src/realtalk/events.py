"""Deprecated: the wire protocol's events are :mod:`realtalk.wire` now.

``import realtalk.events`` keeps working for one release, with a :class:`DeprecationWarning`, and
gives the very module :mod:`realtalk.wire` (so ``isinstance`` checks agree).
"""

import sys
import warnings

from . import wire

warnings.warn("realtalk.events is deprecated and will be removed in the next release: use "
              "realtalk.wire (the app's events are yielded by Conversation.events())",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = wire
