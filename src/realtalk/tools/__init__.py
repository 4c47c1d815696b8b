"""Function tools: plain Python functions the model can call.

- :func:`tool` / :class:`Tool`: a function declared once, in Python; its parameters' JSON
  Schema is written from its type hints (:func:`schema_for`, :func:`parameters_schema`).
- :meth:`Tool.parse`: a call's JSON arguments checked against that schema and converted to
  the hints' types before the function runs; :class:`ToolArgumentsError` lists what is
  wrong, for the model to correct.
- :class:`ToolCalls` (:mod:`realtalk.tools.calls`): the conversation's ledger of calls, and
  the events the app sees (:class:`ToolCallStarted`, :class:`ToolCallFinished`,
  :class:`ToolCallCancelled`, each about a :class:`ToolCall`).
"""

from .arguments import ToolArgumentsError
from .calls import (
    DEFAULT_MAX_TOOL_STEPS,
    ToolCall,
    ToolCallCancelled,
    ToolCallEvent,
    ToolCallFinished,
    ToolCalls,
    ToolCallStarted,
)
from .schema import JSONSchema, parameters_schema, schema_for
from .tool import InterruptPolicy, Tool, tool

__all__ = ("tool", "Tool", "InterruptPolicy", "ToolArgumentsError", "JSONSchema",
           "schema_for", "parameters_schema", "ToolCalls", "ToolCall", "ToolCallEvent",
           "ToolCallStarted", "ToolCallFinished", "ToolCallCancelled",
           "DEFAULT_MAX_TOOL_STEPS")
