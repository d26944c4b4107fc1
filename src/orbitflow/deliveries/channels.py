"""What a channel is: a name, a batch size and a ``send`` that reports one result per row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from orbitflow.deliveries.models import Delivery

Outcome = Literal["delivered", "retry", "failed"]
OUTCOMES = ("delivered", "retry", "failed")
EXCERPT_LIMIT = 1000


@dataclass(frozen=True)
class SendResult:
    """The answer to one delivery: ``retry`` on 5xx, 429, time-outs and connection errors;
    ``failed`` when the receiver refused it for good (other 4xx)."""

    outcome: Outcome
    status_code: int | None = None
    excerpt: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")


@runtime_checkable
class Channel(Protocol):
    """Sends deliveries of one kind. ``send`` runs outside any database transaction and
    gets up to ``max_batch`` due rows of one destination (detached copies); it returns
    one :class:`SendResult` per row, in order. An exception counts as ``retry`` for every
    row of the batch."""

    name: str
    max_batch: int

    def send(self, deliveries: Sequence[Delivery]) -> list[SendResult]: ...


def http_outcome(status_code: int) -> Outcome:
    """The usual reading of an HTTP answer."""
    if 200 <= status_code < 300:
        return "delivered"
    if status_code in (408, 425, 429) or status_code >= 500:
        return "retry"
    return "failed"


def excerpt(text: str | bytes | None, limit: int = EXCERPT_LIMIT) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[:limit]
