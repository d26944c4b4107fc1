"""Objects that every request of a process shares, each found by its type.

Start-up code stores an object with :func:`provide`; request code reaches it with
:func:`shared` and the object's class (or the interface it was provided for), never with a
string: a misspelt name is an import error, and the result has the type that was asked
for. This is ``pyramid_services``' ``find_service(iface)`` without the per-request
container, since none of these objects depends on the request.
"""

from __future__ import annotations

from typing import TypeVar

from pyramid.registry import Registry

T = TypeVar("T")


class NotProvided(LookupError):
    """Nothing of the asked type was provided at start-up."""


def provide(registry: Registry, obj: T, kind: type[T] | None = None) -> T:
    """Store ``obj`` as *the* ``kind`` (its own class by default) of this application."""
    registry[kind or type(obj)] = obj
    return obj


def shared(registry: Registry, kind: type[T]) -> T:
    try:
        return registry[kind]
    except KeyError:
        raise NotProvided(f"no {kind.__module__}.{kind.__qualname__} was provided at start-up") from None


def provided(registry: Registry, kind: type[T]) -> T | None:
    """The ``kind`` of this application, or None when start-up provided none."""
    return registry.get(kind)
