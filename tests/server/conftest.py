"""Fixtures for the embedded server's tests."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import pytest
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeServerEvent as GAServerEvent
from pydantic import BaseModel, TypeAdapter

from realtalk.session_config import WireShape

#: Checks one server frame (a decoded JSON object) against the openai models of a shape.
FrameValidator = Callable[[dict[str, Any], WireShape], None]

_UNIONS: dict[str, Any] = {"ga": GAServerEvent, "beta": BetaServerEvent}
# Fields the hosted service sends that the openai models leave untyped: the session object's
# identity (the models describe the session *request*).
_KNOWN_UNTYPED = frozenset({"session.id", "session.object"})


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio unless a module or test says otherwise (test_app.py runs
    on both backends; others use the asyncio-only ``openai`` client as a peer)."""
    return "asyncio"


def _models(union: Any) -> dict[str, type[BaseModel]]:
    """The members of an openai event union by their ``type``."""
    members: tuple[type[BaseModel], ...] = typing.get_args(typing.get_args(union)[0])
    return {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in members}


def _untyped_fields(value: object, path: str = "") -> list[str]:
    """Dotted paths of the fields a validated model kept only as extras."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}{name}" for name in value.model_extra or {}]
        for name in type(value).model_fields:
            found += _untyped_fields(getattr(value, name), f"{path}{name}.")
    elif isinstance(value, list):
        for child in value:
            found += _untyped_fields(child, path)
    return found


@pytest.fixture(scope="session")
def validate_frame() -> FrameValidator:
    """A check that a server frame is a valid openai event of its shape, with no field the
    openai model does not know (the union as a whole must accept it, too)."""
    models = {shape: _models(union) for shape, union in _UNIONS.items()}
    adapters = {shape: TypeAdapter[Any](union) for shape, union in _UNIONS.items()}

    def validate(frame: dict[str, Any], shape: WireShape) -> None:
        model = models[shape][frame["type"]].model_validate(frame)  # a readable error first
        adapters[shape].validate_python(frame)
        untyped = set(_untyped_fields(model)) - _KNOWN_UNTYPED
        assert not untyped, f"{frame['type']} has fields the openai model does not know: " \
                            f"{sorted(untyped)}"

    return validate
