"""The actions, one registered module each: `throttle`, `challenge`, `decoy`, `block`.

An action module registers a factory that takes the shared `Toolkit` and returns an
`Enforcer`; adding an action is one module here plus one test. The factories run once, when
the middleware is built, so a misconfigured action fails at start-up rather than per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from scrapeguard.enforce.base import Clock, Enforcer
from scrapeguard.enforce.pow import Passes
from scrapeguard.types import Action

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.storage import Storage


@dataclass(frozen=True)
class Toolkit:
    """What actions share: storage, time, the pass book and the operator's settings."""

    storage: Storage
    clock: Clock
    fail_open: bool
    throttle_rate: RateLimitItem
    passes: Passes
    difficulty: tuple[int, int]
    has_decoy: bool
    state_key: Callable[[str], str] = str
    """Names an actor in the shared storage: a keyed hash there, never the clear key."""


Factory = Callable[[Toolkit], Enforcer]
REGISTRY: dict[Action, Factory] = {}


def register(action: Action) -> Callable[[Factory], Factory]:
    """Class or function decorator: `@register("block")` makes an action available."""

    def add(factory: Factory) -> Factory:
        REGISTRY[action] = factory
        return factory

    return add


def build(toolkit: Toolkit) -> dict[Action, Enforcer]:
    """One enforcer per registered action."""
    return {action: factory(toolkit) for action, factory in REGISTRY.items()}


ACTION_MODULES = ("block", "throttle", "challenge", "decoy")
"""Importing a module registers its action; after `register` exists, since they use it."""
for _module in ACTION_MODULES:
    import_module(f"{__name__}.{_module}")

__all__ = ["REGISTRY", "Toolkit", "build", "register"]
