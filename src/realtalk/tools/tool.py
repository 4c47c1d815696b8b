"""A function tool: a plain Python function the model can call, declared once.

::

    @realtalk.tool
    def book_table(day: Literal["friday", "saturday"],
                   people: Annotated[int, "how many, the caller included"] = 2) -> str:
        \"\"\"Book a table at the restaurant.\"\"\"
        ...

The name is the function's, the description its docstring's first paragraph (parameters
described in an ``Args:`` section are described to the model too), and the parameters'
schema comes from the hints (:mod:`realtalk.tools.schema`). Sync and async functions both
work. :meth:`Tool.parse` checks and converts a call's JSON arguments before anything runs.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, overload

import attrs

from .._args import bad_argument, check_number
from .arguments import check, convert, decode_arguments
from .schema import JSONSchema, parameters_schema

__all__ = ("Tool", "tool", "InterruptPolicy")

InterruptPolicy = Literal["finish", "cancel"]
"""What a barge-in does to a running call: let it ``"finish"`` (its output still reaches the
model), or ``"cancel"`` it (the model is told the user interrupted it)."""

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ARGS_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


@attrs.frozen(kw_only=True, eq=False)
class Tool:
    """A function the model can call.

    Attributes:
        name: the name the model calls it by (letters, digits, ``_`` and ``-``, at most 64).
        description: what it does, for the model.
        parameters: the JSON Schema of its arguments (an object schema).
        function: what runs; sync functions run in a worker thread, async ones in the
            conversation's task group.
        timeout_s: a call still running after this many seconds is cancelled and answered
            with an error (``None``: no limit).
        on_interrupt: what a barge-in does to a running call (see :data:`InterruptPolicy`).
    """

    name: str
    description: str
    parameters: JSONSchema
    function: Callable[..., Any]
    timeout_s: float | None = 30.0
    on_interrupt: InterruptPolicy = "finish"
    _hints: Mapping[str, Any] = attrs.field(factory=dict, alias="hints")

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise bad_argument("name", "1 to 64 letters, digits, '_' or '-'", self.name)
        if not isinstance(self.description, str):
            raise bad_argument("description", "a string", self.description)
        if not isinstance(self.parameters, dict) or self.parameters.get("type") != "object":
            raise bad_argument("parameters", "a JSON Schema object ({'type': 'object', ...})",
                               self.parameters)
        if not callable(self.function):
            raise bad_argument("function", "a function", self.function)
        check_number("timeout_s", self.timeout_s, positive=True, optional=True)
        if self.on_interrupt not in ("finish", "cancel"):
            raise bad_argument("on_interrupt", "'finish' or 'cancel'", self.on_interrupt)

    @property
    def is_async(self) -> bool:
        """Whether :attr:`function` is a coroutine function (run in the event loop)."""
        return inspect.iscoroutinefunction(self.function)

    def definition(self) -> dict[str, Any]:
        """The tool as the session declares it (``session.tools`` entry)."""
        return {"type": "function", "name": self.name, "description": self.description,
                "parameters": self.parameters}

    def parse(self, arguments: str) -> dict[str, Any]:
        """A call's JSON arguments, checked against :attr:`parameters` and converted to the
        function's hints (``Enum`` members, attrs instances, ...): the keyword arguments to
        call :attr:`function` with.

        Raises:
            ToolArgumentsError: the arguments are not JSON, or not what the schema allows;
                the message lists every problem with its path.
        """
        values = decode_arguments(self.name, arguments, self.parameters)
        return {name: convert(value, self._hints.get(name, Any))
                for name, value in values.items()}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly (a tool stays usable as the function it wraps)."""
        return self.function(*args, **kwargs)


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(*, name: str | None = None, description: str | None = None,
         parameters: JSONSchema | None = None, timeout_s: float | None = 30.0,
         on_interrupt: InterruptPolicy = "finish") -> Callable[[Callable[..., Any]], Tool]: ...


def tool(function: Callable[..., Any] | None = None, /, *, name: str | None = None,
         description: str | None = None, parameters: JSONSchema | None = None,
         timeout_s: float | None = 30.0, on_interrupt: InterruptPolicy = "finish",
         ) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a :class:`Tool` of a function: ``@tool`` or ``@tool(name=..., ...)``.

    Args:
        name: default the function's name.
        description: default the docstring's first paragraph.
        parameters: an explicit JSON Schema (an object schema) instead of the one written
            from the hints; arguments are still checked against it before the call.
        timeout_s, on_interrupt: see :class:`Tool`.

    Raises:
        ConfigurationError: the function cannot be declared (a parameter without a hint, a
            type no JSON value can stand for, ``*args``), or an option is invalid.
    """

    def make(fn: Callable[..., Any]) -> Tool:
        if not callable(fn):
            raise bad_argument("function", "a function", fn)
        summary, documented = _docstring(fn)
        schema = parameters if parameters is not None else parameters_schema(fn, documented)
        if parameters is not None and check(schema, {"type": "object"}, "parameters"):
            raise bad_argument("parameters", "a JSON Schema object", parameters)
        hints: Mapping[str, Any] = {}
        if parameters is None:
            hints = typing.get_type_hints(fn, include_extras=True)
        return Tool(name=name if name is not None else getattr(fn, "__name__", ""),
                    description=description if description is not None else summary,
                    parameters=schema, function=fn, timeout_s=timeout_s,
                    on_interrupt=on_interrupt, hints=hints)

    if function is not None:
        return make(function)
    return make


def _docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The docstring's first paragraph, and the parameter descriptions of its ``Args:``
    section (Google style: ``name: text``, continued on more deeply indented lines)."""
    doc = inspect.getdoc(fn) or ""
    summary = " ".join(doc.split("\n\n")[0].split())
    described: dict[str, str] = {}
    current: str | None = None
    entry_indent: int | None = None
    in_args = False
    for line in doc.splitlines():
        if _ARGS_SECTION.match(line):
            in_args, current, entry_indent = True, None, None
            continue
        if not in_args or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_args = False  # the next section
            continue
        match = _ARG_LINE.match(line)
        if match and (entry_indent is None or indent <= entry_indent):
            current, entry_indent = match.group(1), indent
            described[current] = match.group(2).strip()
        elif current is not None:
            described[current] += " " + line.strip()
    return summary, described
